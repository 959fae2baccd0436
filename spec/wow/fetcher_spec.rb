# frozen_string_literal: true

require "pathname"
require "set"

# Wow::Fetcher.download_all and Wow::Fetcher#download_all against the local mirror: the item
# forms, the options, and what comes back (README.md, "Usage").
RSpec.describe Wow::Fetcher, mirror: true do
  describe "items" do
    it "accepts a Hash with Symbol keys and returns a complete Result" do
      rack = mirror.fixture("rack-3.0.9")
      result, = fetch([{ name: "rack", version: "3.0.9" }])

      expect(result).to be_a(Wow::Fetcher::Result)
      expect(result.to_h.except(:elapsed)).to eq(
        name: "rack", version: "3.0.9", platform: "ruby", full_name: "rack-3.0.9",
        url: "#{mirror.url}/gems/rack-3.0.9.gem", path: cache_entry("rack-3.0.9"), sha256: rack.sha256,
        bytes: rack.size, status: :downloaded, error: nil, attempts: 1
      )
      expect(result.elapsed).to be_a(Float).and be > 0
      expect(result).to be_ok
      expect(Digest::SHA256.file(result.path).hexdigest).to eq(rack.sha256)
    end

    it "accepts a Hash with String keys, platform and sha256 included" do
      nokogiri = mirror.fixture("nokogiri-1.16.2-x86_64-linux")
      result, = fetch([{ "name" => "nokogiri", "version" => "1.16.2", "platform" => "x86_64-linux",
                         "sha256" => nokogiri.sha256.upcase }])

      expect([result.platform, result.full_name, result.sha256]).to eq(["x86_64-linux", nokogiri.full_name, nokogiri.sha256])
      expect(File.basename(result.path)).to eq("nokogiri-1.16.2-x86_64-linux.gem")
    end

    it "accepts name-version and name-version-platform Strings, names with dashes and digits included" do
      results = fetch(%w[rack-session-2.0.0 nokogiri-1.16.2-x86_64-linux rails-html-sanitizer-1.6.0])

      expect(results.map { |r| [r.name, r.version, r.platform] }).to eq(
        [%w[rack-session 2.0.0 ruby], %w[nokogiri 1.16.2 x86_64-linux], %w[rails-html-sanitizer 1.6.0 ruby]]
      )
    end

    it "accepts Gem::Specification and Gem::NameTuple" do
      spec = Gem::Specification.new do |s|
        s.name = "sqlite3"
        s.version = "1.7.2"
        s.platform = Gem::Platform.new("x86_64-linux")
      end
      tuple = Gem::NameTuple.new("rake", Gem::Version.new("13.1.0"), "ruby")
      results = fetch([spec, tuple])

      expect(results.map(&:full_name)).to eq(%w[sqlite3-1.7.2-x86_64-linux rake-13.1.0])
      expect(results.map(&:sha256)).to eq([mirror.fixture("sqlite3-1.7.2-x86_64-linux").sha256,
                                           mirror.fixture("rake-13.1.0").sha256])
    end

    it "reads sha256 from an object that responds to it" do
      locked = Struct.new(:name, :version, :sha256)
      expect { fetch([locked.new("thor", "1.3.0", "0" * 64)]) }.to raise_error(Wow::Fetcher::DownloadError) do |error|
        expect(error.failures.first.error).to be_a(Wow::Fetcher::ChecksumMismatch)
      end
      expect(fetch([locked.new("thor", "1.3.0", mirror.fixture("thor-1.3.0").sha256)]).first).to be_ok
    end

    it "accepts any Enumerable" do
      expect(fetch(Set["erubi-1.12.0", "crass-1.0.6"]).map(&:full_name)).to eq(%w[erubi-1.12.0 crass-1.0.6])
      expect(fetch(%w[timeout-0.4.1].each).map(&:full_name)).to eq(%w[timeout-0.4.1])
    end

    it "uses url: as given, and an item's source: over the call's" do
      results = Wow::Fetcher.download_all(
        [{ name: "base64", version: "0.2.0", url: "#{mirror.url}/gems/base64-0.2.0.gem" },
         { name: "builder", version: "3.2.4", source: mirror.url }],
        source: "https://wow-fetch.invalid", cache_dir: cache_dir, progress: false
      )
      expect(results.map(&:url)).to eq(["#{mirror.url}/gems/base64-0.2.0.gem", "#{mirror.url}/gems/builder-3.2.4.gem"])
      expect(results).to all(be_ok)
    end

    it "fetches a duplicated item once and reports every occurrence, in input order" do
      mirror.reset_stats
      terminal = []
      results = fetch(%w[i18n-1.14.1 globalid-1.2.1 i18n-1.14.1]) { |e| terminal << e.full_name if e.terminal? }

      expect(results.map(&:full_name)).to eq(%w[i18n-1.14.1 globalid-1.2.1 i18n-1.14.1])
      expect(results).to all(be_ok)
      expect(terminal.sort).to eq(%w[globalid-1.2.1 i18n-1.14.1 i18n-1.14.1])
      expect(mirror.gem_requests("i18n-1.14.1.gem")).to eq(1)
    end

    it "returns results in input order whatever the completion order" do
      order = %w[nokogiri-1.16.2-x86_64-linux stringio-3.1.0 pg-1.5.5-x86_64-linux base64-0.2.0 rack-test-2.1.0]
      finished = []
      results = fetch(order) { |e| finished << e.full_name if e.terminal? }

      expect(results.map(&:full_name)).to eq(order)
      expect(finished).to match_array(order)
    end

    it "returns [] for no items" do
      expect(fetch([])).to eq([])
    end
  end

  describe "dest: and cache_dir:" do
    it "places files in dest (created if missing) and keeps the cache entry" do
      dest = File.join(tmp, "vendor", "cache")
      result, = fetch(["zeitwerk-2.6.13"], dest: dest)

      expect(result.path).to eq(File.join(dest, "zeitwerk-2.6.13.gem"))
      expect(Digest::SHA256.file(result.path).hexdigest).to eq(mirror.fixture("zeitwerk-2.6.13").sha256)
      expect(File.file?(cache_entry("zeitwerk-2.6.13"))).to be(true)
      expect(Dir.children(dest)).to eq(["zeitwerk-2.6.13.gem"])
    end

    it "takes relative paths from the current directory and accepts Pathname" do
      Dir.chdir(tmp) do
        result, = Wow::Fetcher.download_all(["erubi-1.12.0"], source: mirror.url, cache_dir: Pathname("rel-cache"),
                                                               dest: "rel-dest", progress: false)
        expect(result.path).to eq(File.join(File.realpath(tmp), "rel-dest", "erubi-1.12.0.gem"))
        expect(File.directory?(File.join(tmp, "rel-cache", "gems-v2"))).to be(true)
      end
    end

    it "serves a second call from the cache without a request" do
      fetch(%w[tzinfo-2.0.6 webrick-1.8.1])
      mirror.reset_stats
      events = []
      results = fetch(%w[tzinfo-2.0.6 webrick-1.8.1]) { |e| events << e.type }

      expect(results.map(&:status)).to eq(%i[cached cached])
      expect(results.map(&:attempts)).to eq([0, 0])
      expect(results.map(&:sha256)).to eq(%w[tzinfo-2.0.6 webrick-1.8.1].map { |n| mirror.fixture(n).sha256 })
      expect(events).to eq(%i[cached cached])
      expect(mirror.stats["paths"].keys.grep(%r{\A/gems/})).to be_empty
    end

    it "fetches again when the cached file does not match the expected sha256" do
      fetch(["psych-5.1.2"])
      File.write(cache_entry("psych-5.1.2"), "not the gem")
      result, = fetch([{ name: "psych", version: "5.1.2", sha256: mirror.fixture("psych-5.1.2").sha256 }])

      expect(result.status).to eq(:downloaded)
      expect(Digest::SHA256.file(cache_entry("psych-5.1.2")).hexdigest).to eq(mirror.fixture("psych-5.1.2").sha256)
    end

    it "defaults to $WOW_CACHE_DIR" do
      ENV["WOW_CACHE_DIR"] = File.join(tmp, "env-cache")
      result, = Wow::Fetcher.download_all(["reline-0.4.3"], source: mirror.url, progress: false)
      expect(result.path).to start_with(File.join(tmp, "env-cache", "gems-v2"))
    ensure
      ENV.delete("WOW_CACHE_DIR")
    end
  end

  describe ".default_cache_dir" do
    it "prefers WOW_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache" do
      expect(described_class.default_cache_dir("WOW_CACHE_DIR" => "/w", "XDG_CACHE_HOME" => "/x")).to eq("/w")
      expect(described_class.default_cache_dir("WOW_CACHE_DIR" => "", "XDG_CACHE_HOME" => "/x")).to eq("/x/wow/gems")
      expect(described_class.default_cache_dir({})).to eq(File.join(Dir.home, ".cache", "wow", "gems"))
    end
  end

  describe "instances" do
    it "keeps options given to new, overridden per call; nil restores the default" do
      fetcher = described_class.new(source: mirror.url, cache_dir: cache_dir, dest: File.join(tmp, "own"),
                                    progress: false)
      own, = fetcher.download_all(["racc-1.7.3"])
      other, = fetcher.download_all(["racc-1.7.3"], dest: File.join(tmp, "other"))
      cache_only, = fetcher.download_all(["racc-1.7.3"], dest: nil)

      expect(own.path).to eq(File.join(tmp, "own", "racc-1.7.3.gem"))
      expect(other.path).to eq(File.join(tmp, "other", "racc-1.7.3.gem"))
      expect(cache_only.path).to eq(cache_entry("racc-1.7.3"))
    end

    it "multiplexes transfers over HTTP/2 connections it keeps across calls" do
      # The engine opens a few connections ("lanes") per host, never more than per_host.
      fetcher = described_class.new(source: mirror.url, cache_dir: cache_dir, progress: false, per_host: 2)
      mirror.reset_stats
      fetcher.download_all(%w[activejob-7.1.3 activemodel-7.1.3 i18n-1.14.1 builder-3.2.4 loofah-2.22.0 erubi-1.12.0])
      first = mirror.stats
      mirror.reset_stats
      fetcher.download_all(%w[minitest-5.22.2 nio4r-2.7.0], cache_dir: File.join(tmp, "second"))
      second = mirror.stats

      expect(first.values_at("h2_connections", "requests")).to eq([2, 6])
      expect(second.values_at("h2_connections", "requests")).to eq([0, 2])
    end

    it "carries every transfer over one connection when one at a time" do
      fetcher = described_class.new(source: mirror.url, cache_dir: cache_dir, progress: false, concurrency: 1)
      mirror.reset_stats
      fetcher.download_all(%w[crass-1.0.6 rack-test-2.1.0 rails-7.1.3])
      expect(mirror.stats.values_at("h2_connections", "requests")).to eq([1, 3])
    end

    it "offers only HTTP/1.1 with http1_only: true" do
      mirror.reset_stats
      fetch(["mini_portile2-2.8.5"], http1_only: true)
      expect(mirror.stats["h2_connections"]).to eq(0)
    end
  end

  describe "concurrency: and per_host:" do
    # The most responses the mirror was sending at one moment during the call: transfers in
    # flight, however many requests (segments) an item takes. (Counting items between
    # :started and their terminal event would also count an item being renamed into place
    # after its transfer ended.)
    def most_in_flight(names, **options)
      mirror.reset_stats
      fetch(names, **options)
      mirror.stats.fetch("max_concurrent_responses")
    end

    let(:names) { %w[actionview-7.1.3 railties-7.1.3 bigdecimal-3.1.6 rack-2.2.8 minitest-5.22.2 nio4r-2.7.0] }

    before { names.each { |name| throttle(name, 1_000_000) } }

    it "limits transfers in flight" do
      expect(most_in_flight(names, concurrency: 1)).to eq(1)
      expect(most_in_flight(names, concurrency: 6, cache_dir: File.join(tmp, "wide"))).to be > 1
    end

    it "limits transfers in flight to one host" do
      expect(most_in_flight(names, per_host: 2)).to eq(2)
    end
  end

  describe "TLS" do
    it "verifies certificates: without the mirror's CA the transfer fails with a TLS error" do
      ENV.delete("SSL_CERT_FILE")
      results = fetch(["rack-2.2.8"], raise_on_failure: false, retries: 0)
      expect(results.first.error).to be_a(Wow::Fetcher::NetworkError)
      expect(results.first.error.reason).to eq(:tls)
    end

    it "trusts ca_file: when given" do
      ENV.delete("SSL_CERT_FILE")
      expect(fetch(["rack-2.2.8"], ca_file: mirror.ca_file).first).to be_ok
    end
  end

  describe "failures" do
    it "raises DownloadError after attempting every item, listing each failure" do
      expect { fetch(%w[rake-13.1.0 nope-9.9.9 irb-1.11.2]) }.to raise_error(Wow::Fetcher::DownloadError) do |error|
        expect(error.results.map(&:full_name)).to eq(%w[rake-13.1.0 nope-9.9.9 irb-1.11.2])
        expect(error.results.map(&:status)).to eq(%i[downloaded failed downloaded])
        expect(error.failures.map(&:full_name)).to eq(%w[nope-9.9.9])
        expect(error.message).to eq("1 of 3 gems failed:\n  nope-9.9.9: HTTP 404 from #{mirror.url}/gems/nope-9.9.9.gem")
        http = error.failures.first.error
        expect(http).to be_a(Wow::Fetcher::HTTPError)
        expect([http.status, http.url]).to eq([404, "#{mirror.url}/gems/nope-9.9.9.gem"])
      end
      expect(File.file?(cache_entry("irb-1.11.2"))).to be(true)
    end

    it "returns failed results with raise_on_failure: false" do
      ok, failed = fetch(%w[rack-test-2.1.0 missing-1.0.0], raise_on_failure: false)

      expect(ok).to be_ok
      expect(failed.to_h.slice(:status, :path, :sha256, :bytes)).to eq(status: :failed, path: nil, sha256: nil, bytes: 0)
      expect(failed).not_to be_ok
      expect(failed.error).to be_a(Wow::Fetcher::HTTPError)
    end

    it "fails an item with ChecksumMismatch after one retry from scratch, keeping no bytes" do
      dest = File.join(tmp, "dest")
      bad = "ab" * 32
      result, = fetch([{ name: "nio4r", version: "2.7.0", sha256: bad }], dest: dest, raise_on_failure: false)

      expect(result.status).to eq(:failed)
      expect(result.attempts).to eq(2)
      expect(result.error).to be_a(Wow::Fetcher::ChecksumMismatch)
      expect([result.error.expected, result.error.actual]).to eq([bad, mirror.fixture("nio4r-2.7.0").sha256])
      expect(result.error.url).to eq("#{mirror.url}/gems/nio4r-2.7.0.gem")
      expect(File.exist?(cache_entry("nio4r-2.7.0"))).to be(false)
      expect(Dir.exist?(dest) ? Dir.children(dest) : []).to be_empty
      expect(leftovers(tmp)).to be_empty
    end

    it "retries a 503 and reports the retry" do
      mirror.add_faults({ path: { exact: "/gems/puma-6.4.2.gem" }, fault: { status: 503 }, times: 1 })
      events = []
      result, = fetch(["puma-6.4.2"]) { |e| events << e }

      expect(result.status).to eq(:downloaded)
      expect(result.attempts).to eq(2)
      retrying = events.find { |e| e.type == :retrying }
      expect(retrying.attempt).to eq(2)
      expect(retrying.error).to be_a(Wow::Fetcher::HTTPError)
      expect(retrying.error.status).to eq(503)
    end

    it "gives up after retries: extra attempts" do
      mirror.add_faults({ path: { exact: "/gems/puma-6.4.2.gem" }, fault: { status: 503 }, times: 1 })
      result, = fetch(["puma-6.4.2"], retries: 0, raise_on_failure: false)
      expect([result.status, result.attempts, result.error.status]).to eq([:failed, 1, 503])
    end

    it "reports a refused connection as NetworkError :connect" do
      result, = Wow::Fetcher.download_all(["rack-3.0.9"], source: "https://127.0.0.1:1", cache_dir: cache_dir,
                                                          retries: 0, raise_on_failure: false, progress: false)
      expect(result.error).to be_a(Wow::Fetcher::NetworkError)
      expect(result.error.reason).to eq(:connect)
      expect(result.error.url).to eq("https://127.0.0.1:1/gems/rack-3.0.9.gem")
    end

    it "treats a stall longer than read_timeout as a timeout" do
      mirror.add_faults({ path: { exact: "/gems/activesupport-7.1.3.gem" }, fault: { stall: { after: 1000, seconds: 10 } } })
      started = WowSpec.monotonic
      result, = fetch(["activesupport-7.1.3"], read_timeout: 0.3, retries: 0, raise_on_failure: false)

      expect(result.error).to be_a(Wow::Fetcher::NetworkError)
      expect(result.error.reason).to eq(:timeout)
      expect(WowSpec.monotonic - started).to be < 5
    end
  end
end
