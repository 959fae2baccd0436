# frozen_string_literal: true

module Wow
  # Downloads many +.gem+ files at once: one pooled client (HTTP/2 where offered), every file
  # streamed to a temp file while hashed, verified, and renamed into place; a shared cache
  # that is safe across threads and processes. The GVL is released for the whole transfer,
  # and Ctrl-C cancels every transfer promptly.
  #
  #   results = Wow::Fetcher.download_all(["rack-3.0.8", { name: "rake", version: "13.1.0" }],
  #                                       dest: "vendor/cache")
  #   results.map(&:path) # => [".../vendor/cache/rack-3.0.8.gem", ".../vendor/cache/rake-13.1.0.gem"]
  #
  # The methods below marked "native" are implemented in the extension (ext/src/ruby_api), as is
  # +OPTIONS+: the option names (the keywords of #initialize, #download_all and #resolve), a
  # frozen Array of Symbols in the order #download_all lists them.
  #
  # @!method initialize(**options)
  #   Native. Validates +options+ (the same as +download_all+ takes) now, and keeps them as
  #   this instance's defaults. The connection pool is created on first use and kept for
  #   later calls; it is rebuilt in a forked child.
  #   @raise [ArgumentError] on an unknown or invalid option
  #
  # @!method download_all(gems, **options) { |event| ... }
  #   Native. Fetches every item and returns one Result per item, in input order.
  #
  #   +gems+ is an Array (or any Enumerable) of Hashes (+name:+, +version:+, optional
  #   +platform:+, +sha256:+, +url:+, +source:+; String keys work too), Strings
  #   (+"name-version"+ or +"name-version-platform"+), or objects responding to +name+ and
  #   +version+ (Gem::Specification, Gem::NameTuple, Bundler::LazySpecification).
  #
  #   Options, with their defaults in brackets (README.md, "Options", says more). #initialize
  #   and #resolve take the same keywords, which OPTIONS lists; per-call options override the
  #   instance's, and +nil+ means the default.
  #   - +dest:+ [nil] directory that receives the +full_name.gem+ files
  #   - +cache_dir:+ [Fetcher.default_cache_dir] the cache, shared by all processes
  #   - +source:+ ["https://rubygems.org"] base URL for items without +url:+
  #   - +concurrency:+ [64] transfers in flight at once, over all hosts
  #   - +per_host:+ [= concurrency over HTTP/2, at most 16 over HTTP/1.1] transfers in flight at
  #     once to one host (over HTTP/1.1 each is a connection of its own)
  #   - +retries:+ [3] extra attempts after a retryable failure
  #   - +connect_timeout:+ [10] seconds to connect (TCP and TLS)
  #   - +read_timeout:+ [30] seconds without a single byte before a transfer counts as stalled
  #   - +raise_on_failure:+ [true] raise DownloadError when an item failed
  #   - +progress:+ [:auto] live progress on a terminal; +:bar+, +:plain+ or false
  #   - +progress_interval:+ [0.1] seconds between two +:progress+ events of one item
  #   - +headers:+ [{}] extra request headers, sent only to the origin they go with
  #   - +ca_file:+ [$SSL_CERT_FILE] a PEM bundle trusted in addition to the system's roots
  #   - +http1_only:+ [false] offer only HTTP/1.1
  #   - +resolve:+ [false] +gems+ are requirements, resolved as #resolve does first
  #
  #   The block, if given, receives every Event on the calling thread. An exception raised
  #   by the block, Ctrl-C, Thread#raise or Thread#kill cancels every transfer, removes temp
  #   files, and propagates unchanged.
  #   @return [Array<Result>]
  #   @raise [ArgumentError] on bad input, before any network traffic
  #   @raise [DownloadError] when an item failed and +raise_on_failure+ is true
  #
  # @!method resolve(requirements, **options)
  #   Native. Resolves +requirements+ (Strings: +"sinatra"+, +"rack < 3"+,
  #   +"rack:>= 2, < 3"+) and their runtime dependencies through the source's compact index
  #   (cached under +cache_dir+, refreshed with conditional and Range requests), for this Ruby,
  #   RubyGems and platform, preferring the newest versions. Returns Hashes (+name:+,
  #   +version:+, +platform:+, +sha256:+ from the index, +source:+) that +download_all+ takes
  #   as they are; +download_all(requirements, resolve: true)+ does both in one call.
  #   @return [Array<Hash>]
  #   @raise [ArgumentError] on a malformed requirement, before any network traffic
  #   @raise [ResolveError] for an unknown gem or requirements no versions satisfy
  #
  # @!method self.parse_full_name(full_name)
  #   Native. Splits a RubyGems full name as +download_all+ reads a String item: the version
  #   is the first +-+-separated part after the first that starts with a digit, the rest the
  #   platform (+"ruby"+ when there is none). The command line uses it too, so the two never
  #   disagree.
  #     Wow::Fetcher.parse_full_name("net-http-0.4.1") # => { name: "net-http", version: "0.4.1", platform: "ruby" }
  #   @return [Hash] +name:+, +version:+, +platform:+
  #   @raise [ArgumentError] when no part after the first starts with a digit
  class Fetcher
    DEFAULT_LOCK = Mutex.new
    private_constant :DEFAULT_LOCK

    class << self
      # #download_all on the shared instance (Fetcher.default), whose connection pool is
      # reused by every call in the process.
      # @return [Array<Result>]
      def download_all(gems, **options, &block)
        default.download_all(gems, **options, &block)
      end

      # #resolve on the shared instance.
      # @return [Array<Hash>]
      def resolve(requirements, **options)
        default.resolve(requirements, **options)
      end

      # The shared instance, created on first use.
      # @return [Fetcher]
      def default
        DEFAULT_LOCK.synchronize { @default ||= new }
      end

      # Where files are cached when no +cache_dir:+ is given: +$WOW_CACHE_DIR+, else
      # +$XDG_CACHE_HOME/wow/gems+, else +~/.cache/wow/gems+. Read at every call, so a
      # change to ENV takes effect.
      # @return [String]
      def default_cache_dir(env = ENV)
        explicit = env["WOW_CACHE_DIR"]
        return explicit unless explicit.nil? || explicit.empty?

        base = env["XDG_CACHE_HOME"]
        base = File.join(Dir.home, ".cache") if base.nil? || base.empty?
        File.join(base, "wow", "gems")
      end
    end
  end
end
