# frozen_string_literal: true

require "rake"
require "rake/tasklib"
require_relative "lockfile"
require_relative "report"

module Wow
  module Fetch
    # A Rake task that prefetches a lockfile's gems (and/or a list of gems) in parallel.
    #
    #   # Rakefile
    #   require "wow/fetch/rake_task"
    #   Wow::Fetch::RakeTask.new(:prefetch) do |t|
    #     t.lockfile = "Gemfile.lock"
    #     t.dest = "vendor/cache"
    #   end
    #
    # `rake prefetch` prints the same summary as `wow-fetch` and fails (listing every failed
    # package) when any could not be fetched. Loading the Rakefile does not load the extension,
    # so `rake -T` works before it is built.
    class RakeTask < ::Rake::TaskLib
      # The task's name (default :prefetch) and `rake -T` description.
      attr_accessor :name, :description
      # A Gemfile.lock whose GEM specs are fetched (default "Gemfile.lock" when `gems` is empty).
      attr_accessor :lockfile
      # More items for download_all: "rack-3.0.8" strings or Hashes (default []).
      attr_accessor :gems
      # Options passed to Wow::Fetcher.download_all when set (nil: the library's default).
      attr_accessor :dest, :cache_dir, :concurrency, :per_host, :source, :retries
      # :auto (default), :bar, :plain or false, as download_all's progress:.
      attr_accessor :progress
      # Print only failures (default false).
      attr_accessor :quiet
      # What downloads (default Wow::Fetcher, loaded when the task runs).
      attr_writer :fetcher

      def initialize(name = :prefetch, *args)
        super()
        @name = name
        @args = args
        @lockfile = nil
        @gems = []
        @progress = :auto
        @quiet = false
        yield self if block_given?
        @description ||= default_description
        define
      end

      # Fetches now; returns the results. Raises when any package failed.
      def run
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        list = items
        results = fetcher.download_all(list, **download_options)
        report = Report.new(results, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
        if quiet
          report.failures.each { |result| $stderr.puts report.line(result) }
        else
          listed = Report.listed_on_screen?(download_options[:progress], out: $stdout, err: $stderr)
          report.write($stdout, color: Report.color?($stdout), items: !listed)
        end
        raise "wow-fetch: #{report.failure_summary}" unless report.ok?

        results
      end

      # The items the task fetches: the lockfile's, then `gems`.
      def items
        list = []
        if lockfile_path
          lock = Lockfile.read(lockfile_path)
          lock.warnings.each { |warning| $stderr.puts "wow-fetch: warning: #{warning}" }
          lock.notes.each { |note| $stderr.puts "wow-fetch: #{note}" } unless quiet
          @ca_file = lock.ca_file
          list.concat(lock.items)
        end
        list.concat(Array(gems))
      end

      private

      def fetcher
        @fetcher ||= begin
          require "wow/fetch"
          Wow::Fetcher
        end
      end

      def lockfile_path
        lockfile || (Array(gems).empty? ? "Gemfile.lock" : nil)
      end

      def download_options
        options = { dest: dest, cache_dir: cache_dir, concurrency: concurrency, per_host: per_host,
                    source: source, retries: retries, ca_file: @ca_file }.compact
        options[:progress] = quiet ? false : progress
        options[:raise_on_failure] = false
        options
      end

      def default_description
        what = lockfile_path ? "the gems of #{lockfile_path}" : "#{Array(gems).size} gems"
        where = dest ? "into #{dest}" : "into the wow-fetch cache"
        "Prefetch #{what} #{where}, in parallel"
      end

      def define
        desc description
        task(name, *@args) { run }
        self
      end
    end
  end
end
