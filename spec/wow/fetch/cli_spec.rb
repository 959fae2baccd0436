# frozen_string_literal: true

require "json"
require "stringio"
require "fileutils"
require "tmpdir"
require "wow/fetch/cli"

# The command line's parsing, exit codes and output, over a stand-in fetcher; the real one is
# driven end to end in spec/integration/cli_spec.rb.
RSpec.describe Wow::Fetch::CLI do
  fake_result = Struct.new(:name, :version, :platform, :full_name, :url, :path, :sha256, :bytes, :status,
                           :error, :attempts, :elapsed, keyword_init: true) do
    def ok?
      status != :failed
    end
  end

  # Records each call and answers like download_all with raise_on_failure: false.
  let(:fetcher_class) do
    Class.new do
      attr_reader :calls

      def initialize(result_class, failing: {}, raising: nil)
        @result_class = result_class
        @failing = failing
        @raising = raising
        @calls = []
      end

      # Resolves "NAME" or "NAME:REQUIREMENT" to that gem at 1.0.0 plus a dependency.
      def resolve(requests, **options)
        @calls << [:resolve, requests, options]
        requests.flat_map do |request|
          name = request.split(":", 2).first
          [{ name: name, version: "1.0.0" }, { name: "#{name}-dep", version: "2.0.0" }]
        end
      end

      def download_all(items, **options)
        @calls << [items, options]
        raise @raising if @raising

        items.map do |item|
          full_name = [item[:name], item[:version], item[:platform]].compact.reject { |p| p == "ruby" }.join("-")
          error = @failing[full_name]
          @result_class.new(name: item[:name], version: item[:version], platform: item[:platform] || "ruby",
                            full_name: full_name, url: "https://example.test/gems/#{full_name}.gem",
                            path: "/cache/#{full_name}.gem", sha256: error ? nil : "ab" * 32, bytes: 1234,
                            status: error ? :failed : :downloaded, error: error, attempts: 1, elapsed: 0.01)
        end
      end
    end
  end

  let(:result_class) { fake_result }
  let(:out) { StringIO.new }
  let(:err) { StringIO.new }
  let(:env) { { "HOME" => "/nonexistent" } }

  def run(*argv)
    described_class.new(out: out, err: err, env: env, fetcher: fetcher).run(argv)
  end

  describe "usage" do
    it "prints help and exits 0" do
      expect(run("--help")).to eq(0)
      expect(out.string).to start_with("Usage: wow-fetch [options] GEM-VERSION...\n")
      expect(out.string).to include("--lockfile PATH", "--dest DIR", "--cache-dir DIR", "--concurrency N",
                                    "--per-host N", "--source URL", "--retries N", "--no-progress", "--json",
                                    "--quiet", "--version")
      expect(fetcher.calls).to be_empty
    end

    it "prints the version and exits 0" do
      expect(run("--version")).to eq(0)
      expect(out.string).to eq("wow-fetch #{Wow::Fetch::VERSION}\n")
    end

    {
      %w[--frobnicate rack-3.0.8] => "wow-fetch: invalid option: --frobnicate",
      [] => "wow-fetch: nothing to fetch: give GEM-VERSION arguments or --lockfile PATH",
      %w[--concurrency many rack-3.0.8] => "wow-fetch: invalid argument: --concurrency many",
      %w[--concurrency 0 rack-3.0.8] => "wow-fetch: --concurrency must be 1 or more, not 0",
      %w[--per-host -2 rack-3.0.8] => "wow-fetch: --per-host must be 1 or more, not -2",
      %w[--retries -1 rack-3.0.8] => "wow-fetch: --retries must be 0 or more, not -1",
      %w[--dest] => "wow-fetch: missing argument: --dest",
      %w[rack-3..0] => 'wow-fetch: rack-3..0: "3..0" is not a valid version of rack',
    }.each do |argv, message|
      it "exits 2 for `wow-fetch #{argv.join(" ")}`" do
        expect(run(*argv)).to eq(2)
        expect(err.string).to eq("#{message}\nRun `wow-fetch --help` for usage.\n")
        expect(out.string).to eq("")
        expect(fetcher.calls).to be_empty
      end
    end

    it "resolves bare names and NAME:REQUIREMENT, then fetches them with the pinned ones" do
      expect(run("--source", "https://gems.example", "sinatra", "rack-3.0.8", "rack:< 3")).to eq(0)
      resolve_call, download_call = fetcher.calls
      expect(resolve_call).to eq([:resolve, ["sinatra", "rack:< 3"], { source: "https://gems.example" }])
      items, = download_call
      expect(items.map { |item| item.values_at(:name, :version) }).to eq(
        [%w[rack 3.0.8], %w[sinatra 1.0.0], %w[sinatra-dep 2.0.0], %w[rack 1.0.0], %w[rack-dep 2.0.0]]
      )
      expect(out.string).to start_with("Prepared 5 packages in ")
    end

    it "exits 2 when download_all rejects an item before any traffic" do
      self.fetcher = fetcher_class.new(fake_result, raising: ArgumentError.new("invalid gem name: \"../evil\""))
      expect(run("rack-3.0.8")).to eq(2)
      expect(err.string).to start_with(%(wow-fetch: invalid gem name: "../evil"\n))
    end

    it "exits 2 with the line for a lockfile it cannot parse" do
      Dir.mktmpdir do |dir|
        path = File.join(dir, "Gemfile.lock")
        File.write(path, "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack 3.0.8\n")
        expect(run("--lockfile", path)).to eq(2)
        expect(err.string).to eq("wow-fetch: #{path}:4: cannot parse spec \"rack 3.0.8\": " \
                                 "expected `name (version)` or `name (version-platform)`\n")
      end
    end

    it "exits 130 when interrupted" do
      self.fetcher = fetcher_class.new(fake_result, raising: Interrupt.new)
      expect(run("rack-3.0.8")).to eq(130)
      expect(err.string).to eq("wow-fetch: interrupted\n")
    end
  end

  describe "items and options" do
    it "passes full names as items and only the options given" do
      expect(run("rack-3.0.8", "net-http-0.4.1", "nokogiri-1.16.0-x86_64-linux")).to eq(0)
      items, options = fetcher.calls.last
      expect(items).to eq([
        { name: "rack", version: "3.0.8" },
        { name: "net-http", version: "0.4.1" },
        { name: "nokogiri", version: "1.16.0", platform: "x86_64-linux" },
      ])
      expect(options).to eq(progress: :auto, raise_on_failure: false)
    end

    # Issue 15: the command line had a parser of its own, which read these differently from
    # the engine's (it resolved each as a requirement). Now both are the engine's.
    {
      "rack-3.0.8-" => { name: "rack", version: "3.0.8" },
      "foo--1.0" => { name: "foo-", version: "1.0" },
      "foo+bar-1.0" => { name: "foo+bar", version: "1.0" },
      "x25519-1.0.10-x86_64-linux" => { name: "x25519", version: "1.0.10", platform: "x86_64-linux" },
    }.each do |arg, item|
      it "reads #{arg} as download_all does" do
        expect(run(arg)).to eq(0)
        expect(fetcher.calls).to eq([[[item], { progress: :auto, raise_on_failure: false }]])
        expect(Wow::Fetcher.parse_full_name(arg)).to eq({ platform: "ruby" }.merge(item))
      end
    end

    it "resolves what is no full name" do
      expect(run("rack:>= 1-2", "sinatra")).to eq(0)
      expect(fetcher.calls.first).to eq([:resolve, ["rack:>= 1-2", "sinatra"], {}])
      expect { Wow::Fetcher.parse_full_name("sinatra") }.to raise_error(
        ArgumentError, 'cannot parse "sinatra" as name-version[-platform]'
      )
    end

    it "maps every option" do
      run("-d", "vendor/cache", "--cache-dir", "/tmp/c", "-j", "32", "--per-host", "8",
          "--source", "https://gems.example.test", "--retries", "0", "--no-progress", "rack-3.0.8")
      expect(fetcher.calls.last.last).to eq(
        dest: "vendor/cache", cache_dir: "/tmp/c", concurrency: 32, per_host: 8,
        source: "https://gems.example.test", retries: 0, progress: false, raise_on_failure: false,
      )
    end

    it "fetches a lockfile's gems, then the arguments, and explains what it skips" do
      Dir.mktmpdir do |dir|
        path = File.join(dir, "Gemfile.lock")
        File.write(path, <<~LOCK)
          PATH
            remote: .
            specs:
              mine (0.1.0)

          GEM
            remote: https://gems.example.test/
            specs:
              rack (3.0.8)

          CHECKSUMS
            rack (3.0.8) sha256=#{"c" * 64}
        LOCK
        expect(run("--lockfile", path, "rake-13.1.0")).to eq(0)
        expect(fetcher.calls.last.first).to eq([
          { name: "rack", version: "3.0.8", platform: "ruby", source: "https://gems.example.test", sha256: "c" * 64 },
          { name: "rake", version: "13.1.0" },
        ])
        expect(err.string).to eq("wow-fetch: skipped mine 0.1.0: PATH source . is not downloaded\n")
      end
    end

    it "applies the project's Bundler config: mirrors, credentials, ssl_ca_cert" do
      Dir.mktmpdir do |dir|
        FileUtils.mkdir_p(File.join(dir, ".bundle"))
        File.write(File.join(dir, ".bundle", "config"), <<~YAML)
          ---
          BUNDLE_MIRROR__HTTPS://GEMS__EXAMPLE__TEST/: "https://mirror.test/m"
          BUNDLE_SSL_CA_CERT: "/etc/corp-ca.pem"
        YAML
        File.write(File.join(dir, "Gemfile.lock"), "GEM\n  remote: https://gems.example.test/\n  specs:\n    rack (3.0.8)\n")
        env["BUNDLE_MIRROR__TEST"] = "ci:t0ken"
        expect(run("--lockfile", File.join(dir, "Gemfile.lock"))).to eq(0)
        items, options = fetcher.calls.last
        expect(items.first[:source]).to eq("https://ci:t0ken@mirror.test/m")
        expect(options[:ca_file]).to eq("/etc/corp-ca.pem")
      end
    end

    it "warns, even with --quiet, when a Bundler config it needs cannot be read" do
      Dir.mktmpdir do |dir|
        config = File.join(dir, ".bundle", "config")
        FileUtils.mkdir_p(File.dirname(config))
        File.write(config, "---\nBUNDLE_MIRROR__ALL: \"https://mirror.test/\"\n")
        File.write(File.join(dir, "Gemfile.lock"), "GEM\n  remote: https://gems.example.test/\n  specs:\n    rack (3.0.8)\n")
        # Root reads any file whatever its mode, so the refusal is the kernel's answer, stubbed.
        allow(File).to receive(:foreach).and_call_original
        allow(File).to receive(:foreach).with(config).and_raise(Errno::EACCES, config)
        expect(run("--lockfile", File.join(dir, "Gemfile.lock"), "--quiet")).to eq(0)
        expect(err.string).to eq("wow-fetch: warning: cannot read #{config} (Permission denied): " \
                                 "mirrors and credentials configured there are not applied\n")
        expect(fetcher.calls.last.first.first[:source]).to eq("https://gems.example.test")
      end
    end

    it "succeeds with nothing to do for a lockfile of path gems only" do
      Dir.mktmpdir do |dir|
        path = File.join(dir, "Gemfile.lock")
        File.write(path, "PATH\n  remote: .\n  specs:\n    mine (0.1.0)\n")
        expect(run("--lockfile", path, "--quiet")).to eq(0)
        expect(out.string).to eq("")
      end
    end
  end

  describe "output" do
    it "prints the summary and a ✓ line per package, and exits 0" do
      expect(run("rack-3.0.8", "rake-13.1.0")).to eq(0)
      expect(out.string).to match(/\APrepared 2 packages in \d+\.\d\ds\n✓ rack-3\.0\.8\.gem\n✓ rake-13\.1\.0\.gem\n\z/)
      expect(err.string).to eq("")
    end

    it "says package for one" do
      run("rack-3.0.8")
      expect(out.string).to start_with("Prepared 1 package in ")
    end

    it "explains each failure and exits 1" do
      self.fetcher = fetcher_class.new(fake_result, failing: {
        "nope-1.0.0" => RuntimeError.new("HTTP 404 Not Found for https://example.test/gems/nope-1.0.0.gem"),
        "bad-2.0.0" => RuntimeError.new("checksum mismatch\nexpected aa, got bb"),
      })
      expect(run("rack-3.0.8", "nope-1.0.0", "bad-2.0.0")).to eq(1)
      expect(out.string.lines.drop(1).join).to eq(<<~OUT)
        ✓ rack-3.0.8.gem
        ✗ nope-1.0.0.gem: HTTP 404 Not Found for https://example.test/gems/nope-1.0.0.gem
        ✗ bad-2.0.0.gem: checksum mismatch; expected aa, got bb
      OUT
      expect(out.string).to start_with("Prepared 1 package in ")
      expect(err.string).to eq("wow-fetch: 2 of 3 packages failed\n")
    end

    it "prints only failures with --quiet" do
      self.fetcher = fetcher_class.new(fake_result, failing: { "nope-1.0.0" => RuntimeError.new("HTTP 404") })
      expect(run("--quiet", "rack-3.0.8", "nope-1.0.0")).to eq(1)
      expect(out.string).to eq("")
      expect(err.string).to eq("✗ nope-1.0.0.gem: HTTP 404\nwow-fetch: 1 of 2 packages failed\n")
      expect(fetcher.calls.last.last[:progress]).to eq(false)
    end

    it "prints one JSON object per package with --json" do
      self.fetcher = fetcher_class.new(fake_result, failing: { "nope-1.0.0" => RuntimeError.new("HTTP 404") })
      expect(run("--json", "rack-3.0.8", "nope-1.0.0")).to eq(1)
      objects = out.string.lines.map { |line| JSON.parse(line) }
      expect(objects.map { |o| o.values_at("full_name", "status", "ok", "error") })
        .to eq([["rack-3.0.8", "downloaded", true, nil], ["nope-1.0.0", "failed", false, "HTTP 404"]])
      expect(objects.first.keys).to include("name", "version", "platform", "path", "sha256", "bytes", "url",
                                            "attempts", "elapsed")
      expect(err.string).to eq("")
    end

    context "on a terminal" do
      let(:out) { StringIO.new.tap { |io| def io.tty? = true } }

      it "colors the marks" do
        run("rack-3.0.8")
        expect(out.string).to include("\e[32m✓\e[0m rack-3.0.8.gem")
      end

      context "with the live view on the same terminal" do
        let(:err) { StringIO.new.tap { |io| def io.tty? = true } }

        it "prints the summary only: the live view listed each gem already" do
          run("rack-3.0.8")
          expect(out.string).to match(/\A\e\[1mPrepared 1 package in \d+\.\d\ds\e\[0m\n\z/)
          expect(fetcher.calls.last.last[:progress]).to eq(:auto)
        end

        it "still lists them with --no-progress" do
          run("--no-progress", "rack-3.0.8")
          expect(out.string).to include("✓\e[0m rack-3.0.8.gem")
        end
      end

      context "with NO_COLOR set" do
        let(:env) { { "HOME" => "/nonexistent", "NO_COLOR" => "1" } }

        it "prints no escape codes" do
          run("rack-3.0.8")
          expect(out.string).not_to include("\e[")
        end
      end
    end

    it "prints no escape codes in a pipe" do
      run("rack-3.0.8")
      expect(out.string).not_to include("\e[")
    end
  end

  attr_writer :fetcher

  def fetcher
    @fetcher ||= fetcher_class.new(result_class)
  end
end
