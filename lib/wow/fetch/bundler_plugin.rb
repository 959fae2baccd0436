# frozen_string_literal: true

require_relative "bundler_cache"

module Wow
  module Fetch
    # What the Bundler plugin (plugins.rb) does during `bundle install`:
    #
    # - before-install-all: work out every gem the install will download (BundlerCache) and start
    #   fetching them in a background thread, into the files Bundler checks before downloading.
    #   The extension releases the GVL, so this overlaps Bundler's own work (fetching the
    #   compact index, resolving) instead of adding to it: at 50 ms latency that phase alone takes
    #   Bundler 1.4 s for a Rails app, longer than the whole prefetch.
    # - before-install (once per gem, on Bundler's install workers): wait until that gem's
    #   prefetch has finished, so Bundler finds the file instead of downloading it again; never
    #   longer than the prefetch stays silent for DEFAULT_STALL_LIMIT, so a hung prefetch cannot
    #   hold Bundler's workers.
    # - after-install-all: stop what is left and say what was done.
    #
    # It never breaks an install: any failure becomes one warning and Bundler downloads what is
    # missing as usual. Off switch: WOW_FETCH_PLUGIN=0 (or false/off/no) in the environment.
    module BundlerPlugin
      OFF = %w[0 false off no].freeze

      # How long an install worker waits for a prefetch that shows no sign of life (no event at
      # all: not a byte, not a retry) before Bundler downloads that gem itself. A working prefetch
      # yields progress several times a second, and a stalled transfer is retried after its
      # 30 s read timeout, so a minute of silence means it is stuck. WOW_FETCH_PLUGIN_WAIT
      # (seconds) overrides it.
      DEFAULT_STALL_LIMIT = 60.0

      # The background prefetch of one install.
      class Prefetch
        TERMINAL = %i[finished cached failed].freeze

        def initialize(cache, entries, stall_limit: DEFAULT_STALL_LIMIT, **options)
          @cache = cache
          @entries = entries
          @options = options
          @stall_limit = stall_limit
          @pending = entries.to_h { |entry| [entry.spec.full_name, true] }
          @mutex = Mutex.new
          @done = ConditionVariable.new
          @last_sign_of_life = now
          @report = nil
          @error = nil
        end

        attr_reader :report, :error, :stall_limit

        def start
          @thread = Thread.new do
            Thread.current.report_on_exception = false
            Thread.current.name = "wow-fetch prefetch"
            @report = @cache.prefetch(@entries, **@options) { |event| observe(event) }
          rescue StandardError, ScriptError => e
            @error = e
          ensure
            @mutex.synchronize do
              @pending.clear
              @done.broadcast
            end
          end
          self
        end

        # Blocks until `full_name` has been fetched or has failed (at once if it is not ours), or
        # until the prefetch has been silent for the stall limit.
        #
        # @return [Boolean] false when it gave up waiting (Bundler then downloads the gem itself)
        def wait_for(full_name)
          @mutex.synchronize do
            while @pending.key?(full_name)
              silent = now - @last_sign_of_life
              return false if silent >= @stall_limit

              @done.wait(@mutex, @stall_limit - silent)
            end
          end
          true
        end

        # Waits for the thread (Bundler has installed everything, so only gems it did not need
        # can still be in flight: those are cancelled) and returns the report.
        def finish(grace = 5)
          @thread&.join(grace) || @thread&.kill&.join
          @report
        end

        private

        def observe(event)
          @mutex.synchronize do
            @last_sign_of_life = now
            next unless TERMINAL.include?(event.type)

            @pending.delete(event.full_name)
            @done.broadcast
          end
        end

        def now
          Process.clock_gettime(Process::CLOCK_MONOTONIC)
        end
      end

      module_function

      # The `before-install-all` hook: start prefetching.
      def before_install_all(definition = ::Bundler.definition, ui: ::Bundler.ui, env: ENV, argv: ARGV)
        @prefetch = nil
        return if OFF.include?(env["WOW_FETCH_PLUGIN"].to_s.downcase)
        return if argv.include?("--local") # offline install from vendor/cache: nothing to download

        cache = BundlerCache.new(definition)
        entries = cache.entries
        return if entries.empty?

        # No live progress: Bundler writes to the terminal at the same time.
        options = { progress: false, stall_limit: stall_limit(env) }
        ca_file = ::Bundler.settings[:ssl_ca_cert] if defined?(::Bundler.settings)
        options[:ca_file] = ca_file if ca_file # as Bundler's own downloads trust it
        @prefetch = Prefetch.new(cache, entries, **options).start
      rescue StandardError, ScriptError => e
        skipped(ui, e)
      end

      # The `before-install` hook, per gem: let Bundler install it only once its file is there.
      def before_install(spec_installation, ui: nil)
        prefetch = @prefetch
        return unless prefetch
        return if prefetch.wait_for(spec_installation.full_name)

        warn_once(ui || ::Bundler.ui, "wow-fetch: no progress for #{prefetch.stall_limit.round(1)}s; Bundler downloads the remaining gems itself")
        nil
      rescue StandardError, ScriptError
        nil # waiting is an optimisation: Bundler downloads the gem itself
      end

      # The `after-install-all` hook: report.
      def after_install_all(ui: ::Bundler.ui)
        prefetch = @prefetch
        @prefetch = nil
        return unless prefetch

        report = prefetch.finish
        if prefetch.error
          skipped(ui, prefetch.error)
        elsif report&.ok?
          ui.info "wow-fetch: #{report.summary.sub("Prepared", "prepared")}"
        elsif report
          lines = report.failures.map { |result| "  #{report.line(result)}" }
          warn_once(ui, "wow-fetch: #{report.failure_summary}; Bundler downloaded them itself:\n#{lines.join("\n")}")
        end
        report
      rescue StandardError, ScriptError => e
        skipped(ui, e)
      end

      def stall_limit(env)
        limit = Float(env["WOW_FETCH_PLUGIN_WAIT"], exception: false)
        limit&.positive? ? limit : DEFAULT_STALL_LIMIT
      end

      def skipped(ui, error)
        warn_once(ui, "wow-fetch: prefetch skipped (#{error.class}: #{error.message.lines.first.to_s.chomp}); " \
                      "Bundler downloads the gems itself")
        nil
      end

      def warn_once(ui, message)
        return if @warned

        @warned = true
        ui.warn(message)
      end
    end
  end
end
