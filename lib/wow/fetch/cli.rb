# frozen_string_literal: true

require "optparse"
require "wow/fetch/version"
require_relative "lockfile"
require_relative "report"

module Wow
  module Fetch
    # `wow-fetch`: the command line over `Wow::Fetcher.download_all`.
    #
    #   wow-fetch rack-3.0.8 nokogiri-1.16.0-x86_64-linux --dest vendor/cache
    #   wow-fetch --lockfile Gemfile.lock --concurrency 32
    #
    # Exit status: 0 when every package is ready, 1 when some failed (each failure is explained),
    # 2 for a usage error (unknown option, bad number, nothing to fetch, unreadable lockfile),
    # 130 when interrupted.
    class CLI
      EXIT_OK = 0
      EXIT_FAILED = 1
      EXIT_USAGE = 2
      EXIT_INTERRUPTED = 130

      # Bad command-line input; printed with a pointer to --help, exit 2.
      class UsageError < StandardError; end
      # The requested gems could not be resolved (unknown gem, conflict, index unreachable).
      class ResolveFailed < StandardError; end

      def self.start(argv = ARGV, out: $stdout, err: $stderr, env: ENV)
        new(out: out, err: err, env: env).run(argv)
      end

      # @param fetcher [#download_all, nil] what downloads (default Wow::Fetcher, loaded on first use
      #   so that --help, --version and usage errors work without the compiled extension)
      def initialize(out: $stdout, err: $stderr, env: ENV, fetcher: nil)
        @out = out
        @err = err
        @env = env
        @fetcher = fetcher
      end

      # @return [Integer] the exit status
      def run(argv)
        @started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        options = parse(argv)
        return EXIT_OK if options[:done]

        items = collect_items(options)
        raise UsageError, "nothing to fetch: give GEM-VERSION arguments or --lockfile PATH" if items.empty? && !options[:lockfile]

        download(items, options)
      rescue UsageError, OptionParser::ParseError => e
        @err.puts "wow-fetch: #{e.message}"
        @err.puts "Run `wow-fetch --help` for usage."
        EXIT_USAGE
      rescue Lockfile::ParseError => e
        @err.puts "wow-fetch: #{e.message}"
        EXIT_USAGE
      rescue ResolveFailed => e
        @err.puts "wow-fetch: #{e.message}"
        EXIT_FAILED
      rescue Interrupt
        @err.puts "wow-fetch: interrupted"
        EXIT_INTERRUPTED
      end

      # @return [Hash] the options; `:done` when --help or --version already answered
      def parse(argv)
        options = { args: [] }
        parser = option_parser(options)
        options[:args] = parser.parse(Array(argv))
        options
      end

      def option_parser(options)
        OptionParser.new do |o|
          o.program_name = "wow-fetch"
          o.version = Wow::Fetch::VERSION
          o.banner = <<~BANNER
            Usage: wow-fetch [options] GEM-VERSION...
                   wow-fetch [options] --lockfile Gemfile.lock

            Download .gem files in parallel, verified, into a cache shared by every process
            (and into DIR with --dest). GEM-VERSION is a RubyGems full name such as
            rack-3.0.8 or nokogiri-1.16.0-x86_64-linux.

            Options:
          BANNER
          o.on("-l", "--lockfile PATH", "Fetch every gem of a Gemfile.lock (remotes,", "mirrors, credentials and CHECKSUMS as Bundler)") do |path|
            options[:lockfile] = path
          end
          o.on("-d", "--dest DIR", "Also place the .gem files in DIR (e.g. vendor/cache)") { |dir| options[:dest] = dir }
          o.on("--cache-dir DIR", "Shared cache (default $WOW_CACHE_DIR, else ~/.cache/wow/gems)") do |dir|
            options[:cache_dir] = dir
          end
          o.on("-j", "--concurrency N", Integer, "Transfers in flight at once (default 64; at most 16 connections to an HTTP/1.1 host)") do |n|
            options[:concurrency] = positive(n, "--concurrency")
          end
          o.on("--per-host N", Integer, "Transfers in flight to one host (default: --concurrency over HTTP/2, at most 16 over HTTP/1.1)") do |n|
            options[:per_host] = positive(n, "--per-host")
          end
          o.on("-s", "--source URL", "Server for GEM-VERSION arguments (default https://rubygems.org)") do |url|
            options[:source] = url
          end
          o.on("--retries N", Integer, "Extra attempts after a retryable failure (default 3)") do |n|
            raise UsageError, "--retries must be 0 or more, not #{n}" if n.negative?

            options[:retries] = n
          end
          o.on("--no-progress", "No live progress display on a terminal") { options[:progress] = false }
          o.on("--json", "Print one JSON object per package instead of the summary") { options[:json] = true }
          o.on("-q", "--quiet", "Print only failures") { options[:quiet] = true }
          o.on("-v", "--version", "Print the version") do
            @out.puts "wow-fetch #{Wow::Fetch::VERSION}"
            options[:done] = true
          end
          o.on("-h", "--help", "Print this help") do
            @out.puts o.help
            options[:done] = true
          end
          o.separator ""
          o.separator "Exit status: 0 all packages ready, 1 some failed, 2 usage error."
        end
      end

      # Lockfile items first, then the arguments, in order.
      def collect_items(options)
        items = []
        if options[:lockfile]
          root = File.dirname(File.expand_path(options[:lockfile]))
          lockfile = Lockfile.read(options[:lockfile], settings: BundlerSettings.new(root: root, env: @env))
          lockfile.warnings.each { |warning| @err.puts "wow-fetch: warning: #{warning}" }
          lockfile.notes.each { |note| @err.puts "wow-fetch: #{note}" } unless options[:quiet]
          items.concat(lockfile.items)
          options[:ca_file] = lockfile.ca_file if lockfile.ca_file
        end
        pinned, requests = options[:args].map { |arg| [arg, full_name_parts(arg)] }.partition { |_, parts| parts }
        items.concat(pinned.map { |arg, parts| pinned_item(arg, parts) })
        items.concat(resolve(requests.map(&:first), options)) unless requests.empty?
        items
      end

      # Bare names ("sinatra") and "NAME:REQUIREMENT" ("rack:< 3") are resolved with their
      # runtime dependencies through the source's compact index.
      def resolve(requests, options)
        fetcher = load_fetcher
        raise ResolveFailed, "cannot resolve without the extension" unless fetcher

        fetcher.resolve(requests, **options.slice(:source, :cache_dir, :ca_file))
      rescue ArgumentError => e
        raise UsageError, e.message
      rescue Wow::Fetcher::Error => e
        raise ResolveFailed, e.message
      end

      private

      # "name-version" or "name-version-platform" as the engine reads it (the same parser
      # download_all applies to a String); nil for a bare name ("sinatra") or NAME:REQUIREMENT
      # ("rack:< 3"), which are resolved. A gem name cannot contain ":".
      def full_name_parts(arg)
        return nil if arg.include?(":")

        engine = load_engine
        raise ResolveFailed, "cannot read #{arg.inspect} without the extension" unless engine

        engine.parse_full_name(arg)
      rescue ArgumentError
        nil
      end

      def pinned_item(arg, parts)
        unless Gem::Version.correct?(parts[:version])
          raise UsageError, "#{arg}: #{parts[:version].inspect} is not a valid version of #{parts[:name]}"
        end

        item = { name: parts[:name], version: parts[:version] }
        item[:platform] = parts[:platform] unless parts[:platform] == "ruby"
        item
      end

      def positive(number, flag)
        raise UsageError, "#{flag} must be 1 or more, not #{number}" unless number.positive?

        number
      end

      def download(items, options)
        fetcher = load_fetcher
        return EXIT_FAILED unless fetcher

        call_options = options.slice(:dest, :cache_dir, :concurrency, :per_host, :source, :retries, :ca_file)
        call_options[:progress] = options.fetch(:progress, !options[:quiet]) ? :auto : false
        call_options[:raise_on_failure] = false

        results = begin
          fetcher.download_all(items, **call_options)
        rescue ArgumentError => e
          raise UsageError, e.message
        end
        # From the start of the run: resolving is part of preparing the packages.
        elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - @started

        report = Report.new(results, elapsed)
        print_report(report, options, listed: Report.listed_on_screen?(call_options[:progress], out: @out, err: @err))
        report.ok? ? EXIT_OK : EXIT_FAILED
      end

      def print_report(report, options, listed:)
        if options[:json]
          report.results.each { |result| @out.puts Report.json(result) }
        elsif options[:quiet]
          report.failures.each { |result| @err.puts report.line(result, color: Report.color?(@err, @env)) }
        else
          report.write(@out, color: Report.color?(@out, @env), items: !listed)
        end
        @err.puts "wow-fetch: #{report.failure_summary}" unless report.ok? || options[:json]
        @out.flush
      end

      def load_fetcher
        @fetcher || load_engine
      end

      # Wow::Fetcher from the extension (also for parsing names when a stand-in fetcher
      # downloads), or nil after saying why it cannot be loaded.
      def load_engine
        require "wow/fetch"
        Wow::Fetcher
      rescue LoadError => e
        @err.puts "wow-fetch: cannot load the wow-fetch extension (#{e.message.lines.first.chomp}); " \
                  "build it with `rake compile` or reinstall the gem"
        nil
      end
    end
  end
end
