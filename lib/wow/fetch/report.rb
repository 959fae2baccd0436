# frozen_string_literal: true

require "json"

module Wow
  module Fetch
    # Words for a finished `download_all`, shared by the command line, the Rake task and the
    # Bundler plugin so that all three read the same:
    #
    #   Prepared 3 packages in 0.41s
    #   ✓ rack-3.0.8.gem
    #   ✓ nokogiri-1.16.0-x86_64-linux.gem
    #   ✗ nope-1.0.0.gem: HTTP 404 Not Found for https://rubygems.org/gems/nope-1.0.0.gem
    class Report
      GREEN = "\e[32m"
      RED = "\e[31m"
      BOLD = "\e[1m"
      RESET = "\e[0m"

      # Color only on a terminal, and never when NO_COLOR is set to anything (no-color.org) or the
      # terminal is "dumb".
      def self.color?(io, env = ENV)
        tty?(io) && env["NO_COLOR"].to_s.empty? && env["TERM"] != "dumb"
      end

      # Whether the progress display (`progress:`) has already put a ✓/✗ line per item on the
      # terminal that `out` shows too: it writes them to stderr (`:bar` and `:plain` always,
      # `:auto` on a terminal), and a second list there would show every gem twice.
      def self.listed_on_screen?(progress, out:, err:)
        shown = %i[bar plain].include?(progress) || (progress == :auto && tty?(err))
        shown && tty?(out) && tty?(err)
      end

      def self.tty?(io)
        io.respond_to?(:tty?) && io.tty?
      end

      def initialize(results, elapsed)
        @results = results
        @elapsed = elapsed
      end

      attr_reader :results, :elapsed

      def failures
        results.reject(&:ok?)
      end

      def ok?
        failures.empty?
      end

      # "Prepared 5 packages in 0.41s": the packages now on disk, and the wall time.
      def summary
        count = results.count(&:ok?)
        format("Prepared %<count>d %<noun>s in %<seconds>.2fs",
               count: count, noun: count == 1 ? "package" : "packages", seconds: elapsed)
      end

      def line(result, color: false)
        if result.ok?
          mark = color ? "#{GREEN}✓#{RESET}" : "✓"
          "#{mark} #{result.full_name}.gem"
        else
          mark = color ? "#{RED}✗#{RESET}" : "✗"
          "#{mark} #{result.full_name}.gem: #{reason(result)}"
        end
      end

      # "2 of 40 packages failed", for the end of a run that did not fully succeed.
      def failure_summary
        "#{failures.size} of #{results.size} #{results.size == 1 ? "package" : "packages"} failed"
      end

      def reason(result)
        error = result.error
        message = error.respond_to?(:message) ? error.message : error.to_s
        message = error.class.name if message.to_s.strip.empty? && error
        message.to_s.strip.empty? ? "failed" : message.to_s.gsub(/\s*\n\s*/, "; ")
      end

      # The summary and, unless `items: false` (they are on the screen already), one line per
      # item, in input order.
      def write(io, color: false, items: true)
        io.puts(color ? "#{BOLD}#{summary}#{RESET}" : summary)
        results.each { |result| io.puts(line(result, color: color)) } if items
      end

      # One JSON object per result (`wow-fetch --json`).
      def self.json(result)
        error = result.error
        JSON.generate(
          name: result.name, version: result.version, platform: result.platform,
          full_name: result.full_name, status: result.status.to_s, ok: result.ok?,
          path: result.path, sha256: result.sha256, bytes: result.bytes, url: result.url,
          attempts: result.attempts, elapsed: result.elapsed&.round(4),
          error: error && (error.respond_to?(:message) ? error.message : error.to_s),
          error_class: error&.class&.name
        )
      end
    end
  end
end
