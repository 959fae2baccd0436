# frozen_string_literal: true

require "json"
require "open3"
require "rbconfig"
require "tmpdir"
require "wow/fetch/lockfile"

RSpec.describe Wow::Fetch::Lockfile do
  fixtures = File.expand_path("../../fixtures/lockfiles", __dir__)
  define_method(:fixture) { |name| File.join(fixtures, name) }

  # Settings that see no Bundler config and no BUNDLE_* environment, so that the machine running
  # the specs cannot change the answers.
  def clean_settings(env = {})
    Wow::Fetch::BundlerSettings.new(root: nil, env: env, home: nil)
  end

  def read(name, platform: "x86_64-linux", env: {})
    described_class.read(fixture(name), platform: platform, settings: clean_settings(env))
  end

  def parse(text, platform: "x86_64-linux", env: {})
    described_class.parse(text, path: "Gemfile.lock", platform: platform, settings: clean_settings(env))
  end

  def full_names(lock)
    lock.items.map { |item| [item[:name], item[:version], item[:platform]].reject { |part| part == "ruby" }.join("-") }
  end

  # Bundler::LockfileParser as an oracle, in a child process (Bundler wants a Gemfile and keeps
  # global state): every spec, every rubygems remote, and the gems SpecSet#for picks for this
  # platform from the lockfile's DEPENDENCIES, as Bundler does before installing.
  def bundler_oracle(lockfile_text, env = {})
    Dir.mktmpdir("wow-oracle") do |dir|
      File.write(File.join(dir, "Gemfile"), "")
      File.write(File.join(dir, "Gemfile.lock"), lockfile_text)
      script = <<~'RUBY'
        require "bundler"
        require "json"
        parser = Bundler::LockfileParser.new(File.read("Gemfile.lock"))
        deps = parser.dependencies.values
        # SpecSet#for's parameters by Bundler version: 2.3 (check, match_current_platform), 2.4
        # and 2.5 (check, platforms), 2.6 and later (platforms).
        set = Bundler::SpecSet.new(parser.specs)
        parameters = Bundler::SpecSet.instance_method(:for).parameters.map(&:last)
        platforms = [Bundler.local_platform]
        chosen = if parameters.include?(:match_current_platform) then set.for(deps, false, true)
                 elsif parameters.include?(:check) then set.for(deps, false, platforms)
                 else set.for(deps, platforms)
                 end
        chosen = chosen.select { |s| s.source.is_a?(Bundler::Source::Rubygems) }.map(&:full_name)
        puts JSON.generate(
          specs: parser.specs.map { |s| [s.name, s.version.to_s, s.platform.to_s] },
          remotes: parser.sources.grep(Bundler::Source::Rubygems).map { |s| s.remotes.map(&:to_s) },
          chosen: chosen.sort,
        )
      RUBY
      child_env = { "BUNDLE_GEMFILE" => File.join(dir, "Gemfile"), "HOME" => dir, "BUNDLE_IGNORE_CONFIG" => "1" }
      out, err, status = Open3.capture3(child_env.merge(env), RbConfig.ruby, "-e", script, chdir: dir)
      raise "oracle failed: #{err}" unless status.success?

      JSON.parse(out, symbolize_names: true)
    end
  end

  describe "GEM sections" do
    it "takes every spec of every GEM section with its section's remote as the source" do
      lock = read("multiple_remotes.lock")
      expect(lock.items).to eq([
        { name: "concurrent-ruby", version: "1.2.3", platform: "ruby", source: "https://rubygems.org" },
        { name: "i18n", version: "1.14.1", platform: "ruby", source: "https://rubygems.org" },
        { name: "rack", version: "3.0.8", platform: "ruby", source: "https://rubygems.org" },
        { name: "secret_sauce", version: "2.0.0", platform: "ruby",
          source: "https://user:s3cret@gems.example.com/private" },
        { name: "sidekiq-pro", version: "7.2.0", platform: "ruby", source: "https://gems.contribsys.com" },
      ])
      expect(lock.notes).to eq([])
    end

    it "uses the last remote of a section with several, as Bundler ranks them" do
      oracle = bundler_oracle(File.read(fixture("multiple_remotes.lock")))
      expect(oracle[:remotes].last.first).to eq("https://gems.contribsys.com/")
      expect(read("multiple_remotes.lock").specs.last.remote).to eq("https://gems.contribsys.com/")
    end

    it "reads the same specs as Bundler::LockfileParser" do
      %w[multiple_remotes.lock platforms.lock checksums.lock path_git.lock].each do |name|
        # Bundler parses a PLUGIN SOURCE only when that plugin is installed: leave it out.
        text = File.read(fixture(name)).sub(/^PLUGIN SOURCE\n(?: .*\n)+\n/, "")
        oracle = bundler_oracle(text)
        # Bundler 2.3 folds "x86_64-linux-gnu" into "x86_64-linux"; we keep the lockfile's
        # spelling, which is the real file name on the server.
        normalize = ->((name_, version, platform)) { [name_, version, Gem::Platform.new(platform).to_s] }
        ours = parse(text).specs.map { |s| normalize.([s.name, s.version, s.platform]) }
        expect(ours.sort).to eq(oracle[:specs].map(&normalize).sort)
      end
    end

    it "reads the metadata sections" do
      lock = read("path_git.lock")
      expect(lock.platforms).to eq(["ruby"])
      expect(lock.dependencies).to eq(["activesupport", "billing!", "widget!"])
      expect(lock.ruby_version).to eq("ruby 3.1.2p20")
      expect(lock.bundled_with).to eq("2.3.15")
    end

    it "accepts CRLF line endings and a byte order mark" do
      text = "\uFEFF" + File.read(fixture("multiple_remotes.lock")).gsub("\n", "\r\n")
      Dir.mktmpdir do |dir|
        path = File.join(dir, "Gemfile.lock")
        File.binwrite(path, text)
        lock = described_class.read(path, platform: "x86_64-linux", settings: clean_settings)
        expect(lock.items.size).to eq(5)
      end
    end
  end

  describe "platforms" do
    it "keeps only the variant Bundler installs on x86_64-linux, and what it needs" do
      # mini_portile2 is needed only by nokogiri's ruby variant.
      expect(full_names(read("platforms.lock"))).to eq(%w[
        ffi-1.16.3-x86_64-linux-gnu google-protobuf-3.25.2-x86_64-linux
        nokogiri-1.16.0-x86_64-linux racc-1.7.3 tzinfo-data-1.2023.4 tzinfo-2.0.6
      ])
      expect(read("platforms.lock").notes).to contain_exactly(
        "skipped jruby-openssl 0.14.2: locked only for java, not for x86_64-linux",
        "skipped sqlite3 1.7.0: locked only for arm64-darwin, not for x86_64-linux",
      )
    end

    it "agrees with Bundler's choice for the running platform" do
      %w[platforms.lock checksums.lock multiple_remotes.lock].each do |name|
        text = File.read(fixture(name))
        lock = described_class.parse(text, settings: clean_settings)
        # Bundler 2.3 folds "x86_64-linux-gnu" into "x86_64-linux", 4.0 keeps it; we keep the
        # lockfile's spelling, the real file name on the server. Compare the platforms folded.
        fold = ->(names) { names.map { |n| n.sub("-gnu", "") }.sort }
        expect(fold[full_names(lock)]).to eq(fold[bundler_oracle(text)[:chosen]])
      end
    end

    it "agrees with Bundler under force_ruby_platform" do
      text = File.read(fixture("platforms.lock"))
      oracle = bundler_oracle(text, "BUNDLE_FORCE_RUBY_PLATFORM" => "true")
      lock = described_class.parse(text, settings: clean_settings("BUNDLE_FORCE_RUBY_PLATFORM" => "true"))
      expect(lock.platform).to eq("ruby")
      # No ruby variant of google-protobuf: Bundler 2.3 to 2.7 still take the one for this machine
      # (and so do we: it is what installs here); the 4.0 preview leaves it out of its choice and
      # then has to re-resolve. Every other gem agrees with every version.
      no_ruby_variant = ["google-protobuf-3.25.2-x86_64-linux"]
      expect(full_names(lock).sort - no_ruby_variant).to eq(oracle[:chosen] - no_ruby_variant)
      expect(full_names(lock)).to include("nokogiri-1.16.0", "mini_portile2-2.8.5", "ffi-1.16.3",
                                          "google-protobuf-3.25.2-x86_64-linux")
    end

    it "picks the darwin variants on arm64-darwin and ruby where none fits" do
      names = full_names(read("platforms.lock", platform: "arm64-darwin-23"))
      expect(names).to include("nokogiri-1.16.0-arm64-darwin", "sqlite3-1.7.0-arm64-darwin", "ffi-1.16.3")
      expect(names.grep(/google-protobuf/)).to eq([])
    end

    it "picks java variants on JRuby's platform" do
      expect(full_names(read("platforms.lock", platform: "universal-java-17"))).to include("jruby-openssl-0.14.2-java")
    end
  end

  describe "what an install needs" do
    it "follows dependencies through PATH and GIT gems" do
      lock = parse(<<~LOCK)
        PATH
          remote: engines/billing
          specs:
            billing (0.1.0)
              money (~> 6.0)

        GEM
          remote: https://rubygems.org/
          specs:
            money (6.19.0)
              i18n (>= 0.6.4)
            i18n (1.14.1)
            unused (1.0.0)

        DEPENDENCIES
          billing!
      LOCK
      expect(full_names(lock)).to eq(%w[money-6.19.0 i18n-1.14.1])
    end

    it "takes every gem when the lockfile has no DEPENDENCIES" do
      lock = parse("GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.8)\n    rake (13.1.0)\n")
      expect(full_names(lock)).to eq(%w[rack-3.0.8 rake-13.1.0])
    end
  end

  describe "CHECKSUMS" do
    it "gives each item the sha256 of its exact name, version and platform" do
      lock = read("checksums.lock")
      by_name = lock.items.to_h { |item| [item[:name], item] }
      expect(by_name["nokogiri"]).to include(
        platform: "x86_64-linux", sha256: "ab91a0b5d7e1f3c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0",
      )
      expect(by_name["racc"][:sha256]).to eq("b785ab1a5b1c8bd6d3e3f0e7e7c5a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8")
      expect(by_name["rack"]).not_to have_key(:sha256)
      expect(lock.checksums.keys).to contain_exactly(
        "base64-0.2.0", "nokogiri-1.16.0", "nokogiri-1.16.0-x86_64-linux", "racc-1.7.3", "rake-13.1.0",
      )
    end

    it "uses the ruby variant's checksum when the ruby variant is chosen" do
      lock = read("checksums.lock", platform: "ruby")
      nokogiri = lock.items.find { |item| item[:name] == "nokogiri" }
      expect(nokogiri).to include(platform: "ruby", sha256: "341388184e975d2e9a5f4d8e9b3c6e9c3f9d3b2a1c8e7f6d5c4b3a2918273645")
    end
  end

  describe "PATH, GIT and plugin sources" do
    it "skips them with a note" do
      lock = read("path_git.lock")
      expect(full_names(lock)).to eq(%w[activesupport-7.1.3 concurrent-ruby-1.2.3 rack-3.0.8])
      expect(lock.skipped.map(&:name)).to eq(%w[widget billing custom_thing])
      expect(lock.notes).to eq([
        "skipped widget 0.3.0: GIT source https://github.com/example/widget.git is not downloaded",
        "skipped billing 0.1.0: PATH source engines/billing is not downloaded",
        "skipped custom_thing 1.0.0: plugin source https://example.com/custom is not downloaded",
      ])
    end

    it "never prints credentials of a git remote" do
      lock = parse(<<~LOCK)
        GIT
          remote: https://x-access-token:ghs_abc@github.com/acme/private.git
          revision: 0123456789abcdef0123456789abcdef01234567
          specs:
            private (1.0.0)

        GEM
          remote: https://rubygems.org/
          specs:
            rack (3.0.8)
      LOCK
      expect(lock.notes.join).not_to include("ghs_abc")
      expect(lock.notes.join).to include("https://github.com/acme/private.git")
    end
  end

  describe "mirrors and credentials" do
    it "applies a mirror for the remote's URL and the credentials configured for the mirror's host" do
      env = { "BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/" => "https://mirror.corp.test/rubygems",
              "BUNDLE_MIRROR__CORP__TEST" => "ci:t0ken" }
      sources = read("multiple_remotes.lock", env: env).items.map { |item| item[:source] }.uniq
      expect(sources).to eq(["https://ci:t0ken@mirror.corp.test/rubygems",
                             "https://user:s3cret@gems.example.com/private",
                             "https://gems.contribsys.com"])
    end

    it "applies a mirror configured by host and mirror.all" do
      env = { "BUNDLE_MIRROR__RUBYGEMS__ORG" => "https://by-host.test" }
      expect(read("multiple_remotes.lock", env: env).items.first[:source]).to eq("https://by-host.test")
      env = { "BUNDLE_MIRROR__ALL" => "https://everything.test/" }
      expect(read("multiple_remotes.lock", env: env).items.map { |i| i[:source] }.uniq).to eq(["https://everything.test"])
    end

    it "adds credentials configured for a host (BUNDLE_HOST__TLD=user:pass) and keeps URL userinfo" do
      env = { "BUNDLE_GEMS__CONTRIBSYS__COM" => "abcd1234:", "BUNDLE_GEMS__EXAMPLE__COM" => "other:pw" }
      sources = read("multiple_remotes.lock", env: env).items.map { |item| item[:source] }.uniq
      expect(sources).to eq(["https://rubygems.org",
                             "https://user:s3cret@gems.example.com/private",
                             "https://abcd1234:@gems.contribsys.com"])
    end

    it "reads the app's .bundle/config and the user's ~/.bundle/config like Bundler" do
      Dir.mktmpdir do |dir|
        FileUtils.mkdir_p(File.join(dir, "app", ".bundle"))
        FileUtils.mkdir_p(File.join(dir, "home", ".bundle"))
        FileUtils.cp(fixture("multiple_remotes.lock"), File.join(dir, "app", "Gemfile.lock"))
        File.write(File.join(dir, "app", ".bundle", "config"),
                   %(---\nBUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/: "https://local.test/"\n))
        File.write(File.join(dir, "home", ".bundle", "config"),
                   %(---\nBUNDLE_LOCAL__TEST: "me:secret"\nBUNDLE_GEMS__CONTRIBSYS__COM: "k:"\n))
        settings = Wow::Fetch::BundlerSettings.new(root: File.join(dir, "app"), env: {}, home: File.join(dir, "home"))
        lock = described_class.read(File.join(dir, "app", "Gemfile.lock"), platform: "ruby", settings: settings)
        expect(lock.items.map { |item| item[:source] }.uniq)
          .to eq(["https://me:secret@local.test", "https://user:s3cret@gems.example.com/private", "https://k:@gems.contribsys.com"])
      end
    end

    it "agrees with Bundler::Settings on mirrors and credentials" do
      env = { "BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/" => "https://mirror.corp.test/rubygems",
              "BUNDLE_MIRROR__CORP__TEST" => "ci:t0ken", "BUNDLE_GEMS__CONTRIBSYS__COM" => "abcd1234:x" }
      script = <<~'RUBY'
        require "bundler"
        %w[https://rubygems.org/ https://gems.contribsys.com/].each do |remote|
          uri = Bundler::Source::Rubygems.new("remotes" => [remote]).remotes.first
          puts Bundler::Source::Rubygems::Remote.new(uri).uri.to_s
        end
      RUBY
      Dir.mktmpdir do |dir|
        File.write(File.join(dir, "Gemfile"), "")
        out, err, status = Open3.capture3(env.merge("BUNDLE_GEMFILE" => File.join(dir, "Gemfile"), "HOME" => dir),
                                          RbConfig.ruby, "-e", script, chdir: dir)
        expect(status).to be_success, err
        ours = %w[https://rubygems.org/ https://gems.contribsys.com/].map { |remote| clean_settings(env).remote(remote) }
        expect(ours).to eq(out.lines.map(&:chomp))
      end
    end

    it "skips a mirror with a fallback_timeout that does not answer" do
      env = { "BUNDLE_MIRROR__RUBYGEMS__ORG" => "https://down.test", "BUNDLE_MIRROR__RUBYGEMS__ORG__FALLBACK_TIMEOUT" => "1" }
      settings = Wow::Fetch::BundlerSettings.new(env: env, home: nil, prober: ->(_uri, _timeout) { false })
      expect(settings.remote("https://rubygems.org/")).to eq("https://rubygems.org/")
      settings = Wow::Fetch::BundlerSettings.new(env: env, home: nil, prober: ->(_uri, _timeout) { true })
      expect(settings.remote("https://rubygems.org/")).to eq("https://down.test/")
    end
  end

  describe "errors" do
    good = File.read(File.expand_path("../../fixtures/lockfiles/multiple_remotes.lock", __dir__))

    def error_for(text)
      parse(text)
      raise "expected a ParseError"
    rescue described_class::ParseError => e
      e
    end

    it "names the line of a spec without a version" do
      error = error_for(good.sub("    rack (3.0.8)", "    rack 3.0.8"))
      expect(error.line_number).to eq(7)
      expect(error.message).to eq('Gemfile.lock:7: cannot parse spec "rack 3.0.8": expected `name (version)` or `name (version-platform)`')
    end

    it "names the line of an invalid version" do
      error = error_for(good.sub("i18n (1.14.1)", "i18n (1.14.x!)"))
      expect(error.message).to eq('Gemfile.lock:5: "1.14.x!" is not a valid version for i18n')
    end

    it "names the line of a merge conflict marker" do
      text = good.sub("    rack (3.0.8)\n", "<<<<<<< HEAD\n    rack (3.0.8)\n=======\n    rack (3.0.9)\n>>>>>>> main\n")
      expect(error_for(text).message).to start_with("Gemfile.lock:7: merge conflict marker")
    end

    it "names the line of a stray top-level line" do
      expect(error_for(good.sub("PLATFORMS", "platforms:")).message)
        .to eq('Gemfile.lock:21: unexpected "platforms:": not a lockfile section header')
    end

    it "names the line of a bad checksum" do
      text = "#{good}\nCHECKSUMS\n  rack (3.0.8) sha256=abc\n"
      expect(error_for(text).message).to eq("Gemfile.lock:34: sha256 of rack-3.0.8 is not 64 hex digits")
      text = "#{good}\nCHECKSUMS\n  rack 3.0.8\n"
      expect(error_for(text).message).to start_with("Gemfile.lock:34: cannot parse checksum")
    end

    it "names the line of bad indentation" do
      expect(error_for(good.sub("    rack (3.0.8)", "   rack (3.0.8)")).line_number).to eq(7)
      expect(error_for(good.sub("    rack (3.0.8)", "\track (3.0.8)")).message).to eq("Gemfile.lock:7: tab in indentation")
    end

    it "rejects a spec line before `specs:`" do
      error = error_for("GEM\n  remote: https://rubygems.org/\n    rack (3.0.8)\n")
      expect(error.message).to eq('Gemfile.lock:3: cannot parse spec "rack (3.0.8)": expected `  specs:` first')
    end

    it "rejects a Gemfile and an empty file" do
      expect(error_for(%(source "https://rubygems.org"\ngem "rack"\n)).message)
        .to eq(%(Gemfile.lock:1: unexpected "source \\"https://rubygems.org\\"": not a lockfile section header))
      expect(error_for("").message).to eq("Gemfile.lock:1: the lockfile is empty")
      expect(error_for("PLATFORMS\n  ruby\n").message).to eq("Gemfile.lock:1: no GEM, GIT or PATH section; is this a Gemfile.lock?")
    end

    it "reports a missing file by path" do
      expect { described_class.read("/nonexistent/Gemfile.lock") }
        .to raise_error(described_class::ParseError, "/nonexistent/Gemfile.lock: cannot read the lockfile (No such file or directory)")
    end

    it "ignores sections it does not know, as Bundler does" do
      lock = parse("#{good}\nFUTURE SECTION\n  anything (goes) here\n")
      expect(lock.items.size).to eq(5)
    end
  end
end
