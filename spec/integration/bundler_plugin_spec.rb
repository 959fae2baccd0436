# frozen_string_literal: true

require "digest"
require "fileutils"
require "open3"
require "tmpdir"
require "wow/fetch/lockfile"
require_relative "mirror_helper"

# `bundle install` of a Rails-sized project from the local mirror with the plugin added each way
# the README documents: every .gem is fetched exactly once, by wow-fetch, and the bundle is
# complete.
#
# One cell of the compatibility matrix per run (bin/matrix runs them all): WOW_BUNDLER_VERSION
# picks the Bundler (`bundle _VERSION_`, default: the system's), WOW_PLUGIN_GEMS is a directory
# holding the built wow-fetch gems (source and platform gem) that the mirror publishes for the
# `plugin "wow-fetch"` route. Tagged `bundler: true`: `rake spec` leaves these to bin/matrix.
RSpec.describe "Bundler plugin (plugins.rb)", bundler: true do
  before(:all) do
    reason = WowIntegration.missing
    raise "cannot run the Bundler plugin specs: #{reason}" if reason

    @published = ENV["WOW_PLUGIN_GEMS"] or raise "WOW_PLUGIN_GEMS must name a directory with the built wow-fetch gems (bin/matrix sets it)"
    @gem_dir = WowIntegration.bundler_gem_dir(extra: Dir[File.join(@published, "wow-fetch-*.gem")])
    # Bundler 2.3 accepts a compact-index ETag only if it is the MD5 of the body (rubygems.org's
    # scheme); --no-etags keeps the mirror's other ETags out of the way.
    @mirror = WowIntegration::Mirror.start(gems: @gem_dir, args: ["--no-etags"])
    @gems = WowIntegration.gem_files(@gem_dir).to_h { |g| [g.full_name, g] }
    @template = Dir.mktmpdir("wow-bundler-template")
    @dir = @template
    @templates = {}
  end

  after(:all) do
    @mirror&.stop
    FileUtils.rm_rf([@template, @gem_dir].compact)
  end

  around do |example|
    Dir.mktmpdir("wow-bundler") do |dir|
      @dir = dir
      @app = File.join(dir, "app")
      FileUtils.mkdir_p(File.join(dir, "home")) # else Bundler picks a temporary home
      example.run
    end
  end

  def bundle_command
    WowIntegration.bundle_command
  end

  def port
    URI(@mirror.url).port
  end

  # The app for one way of adding the plugin, copied from a template locked once per way.
  def make_app(plugin_line)
    template = @templates[plugin_line] ||= begin
      app = File.join(@template, "app-#{@templates.size}")
      write_project(app, plugin_line)
      app
    end
    FileUtils.cp_r(template, @app)
  end

  # Two sources (the mirror as localhost and as 127.0.0.1, so two GEM sections), platform gems
  # (nokogiri for ruby and this platform, pg and sqlite3 for this platform only), a group that
  # `without` can leave out (puma and its nio4r), and a CHECKSUMS section, which Bundler 2.3
  # ignores and the plugin verifies.
  def write_project(app, plugin_line)
    FileUtils.mkdir_p(app)
    File.write(File.join(app, "Gemfile"), <<~GEMFILE)
      source "https://localhost:#{port}"
      gem "rails", "7.1.3"
      gem "nokogiri"

      group :server do
        gem "puma"
      end

      source "https://127.0.0.1:#{port}" do
        gem "pg"
        gem "sqlite3"
      end

      #{plugin_line}
    GEMFILE
    home = File.join(File.dirname(app), "home")
    FileUtils.mkdir_p(home)
    env = { "BUNDLE_FROZEN" => nil, "HOME" => home, "BUNDLE_PATH" => File.join(File.dirname(app), "lock-bundle") }
    env["WOW_FETCH_PLUGIN"] = "0"
    run_bundle(app, "lock", env: env)
    run_bundle(app, "lock", "--add-platform", "ruby", env: env)
    lockfile = File.join(app, "Gemfile.lock")
    text = File.read(lockfile)
    return if text.include?("\nCHECKSUMS\n") # Bundler 2.6+ records the index's checksums itself

    lines = Wow::Fetch::Lockfile.read(lockfile).specs.map do |spec|
      "  #{spec.name} (#{spec.full_name.delete_prefix("#{spec.name}-")}) sha256=#{@gems.fetch(spec.full_name).sha256}\n"
    end
    File.write(lockfile, text.sub("\nBUNDLED WITH", "\nCHECKSUMS\n#{lines.join}\nBUNDLED WITH"))
  end

  def bundle_env(extra = {})
    WowIntegration.isolated_bundler_env(home: File.join(@dir, "home"), bundle_path: File.join(@dir, "bundle"),
                                        cache_dir: File.join(@dir, "wow-cache"))
                  .merge("BUNDLE_FROZEN" => "true", "NO_COLOR" => "1").merge(@mirror.env).merge(extra)
  end

  def run_bundle(app, *args, env: {})
    out, status = Open3.capture2e(bundle_env(env), *bundle_command, *args, chdir: app)
    raise "#{bundle_command.join(" ")} #{args.join(" ")} failed:\n#{out}" unless status.success?

    out
  end

  def bundle_install(env: {})
    @mirror.reset_stats
    run_bundle(@app, "install", env: env)
  end

  # The same install timed, for bin/matrix's report (WOW_MATRIX_REPORT): a figure to read, not a
  # pass mark (the mirror is local, without a WAN's latency).
  def timed_bundle_install(label, env: {})
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    out = bundle_install(env: env)
    seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    if (report = ENV["WOW_MATRIX_REPORT"])
      cell = "Ruby #{RUBY_VERSION}, Bundler #{WowIntegration.bundler_version || Bundler::VERSION}"
      File.open(report, "a") { |file| file.puts format("%-36s %-34s %6.2f s", cell, label, seconds) }
    end
    out
  end

  def installed_gems(bundle_path = File.join(@dir, "bundle"))
    Dir[File.join(bundle_path, "ruby", "*", "specifications", "*.gemspec")].map { |path| File.basename(path, ".gemspec") + ".gem" }
  end

  # What the install needed from the mirror: every gem Bundler installed, except the plugin.
  def installed_from_mirror(bundle_path = File.join(@dir, "bundle"))
    installed_gems(bundle_path).reject { |file| file.start_with?("wow-fetch-") }
  end

  # The .gem files wow-fetch fetched, each exactly once, and nothing fetched by anyone else.
  def expect_fetched_once_by_wow_fetch(out, bundle_path = File.join(@dir, "bundle"))
    expected = installed_from_mirror(bundle_path)
    expect(expected.size).to be >= 30
    expect(out).to match(/^wow-fetch: prepared #{expected.size} packages in \d+\.\d\ds$/)
    expect(out).to include("Bundle complete!")
    expect(@mirror.gem_downloads.reject { |file, _| file.start_with?("wow-fetch-") }).to eq(expected.to_h { |file| [file, 1] })
    # Bundler asked for none of them: every request for a .gem came from wow-fetch.
    agents = @mirror.requests_seen.filter_map do |request|
      next unless request["path"].start_with?("/gems/") && !request["path"].start_with?("/gems/wow-fetch-")

      request["headers"].find { |name, _| name.casecmp?("user-agent") }&.last
    end
    expect(agents.size).to be >= expected.size
    expect(agents).to all(start_with("wow-fetch/"))
  end

  def path_plugin
    %(plugin "wow-fetch", path: #{WowIntegration::ROOT.inspect})
  end

  it "runs the Bundler of this cell" do
    out, status = Open3.capture2e(bundle_env, *bundle_command, "--version", chdir: @dir)
    expect(status).to be_success
    expect(out).to include(WowIntegration.bundler_version || Gem::Specification.find_by_name("bundler").version.to_s)
  end

  context "added with `plugin \"wow-fetch\", path:`" do
    before { make_app(path_plugin) }

    it "has a lockfile of 30+ gems from two sources, with platform gems and CHECKSUMS" do
      lock = Wow::Fetch::Lockfile.read(File.join(@app, "Gemfile.lock"))
      expect(lock.items.size).to be >= 30
      expect(lock.items.map { |item| item[:source] }.uniq.size).to eq(2)
      expect(lock.specs.map(&:full_name)).to include("nokogiri-1.16.2", "nokogiri-1.16.2-x86_64-linux")
      expect(lock.items).to all(include(:sha256))
    end

    it "fetches every gem exactly once, by wow-fetch, and the install succeeds" do
      out = timed_bundle_install("bundle install, with the plugin")
      expect(out).to include("Installed plugin wow-fetch")
      expect(out).not_to include("plugin paths don't exist")
      expect_fetched_once_by_wow_fetch(out)
      expect(installed_gems).to include("nokogiri-1.16.2-x86_64-linux.gem", "puma-6.4.2.gem")
    end

    it "fetches only what Bundler installs when groups are left out (BUNDLE_WITHOUT)" do
      out = bundle_install(env: { "BUNDLE_WITHOUT" => "server" })
      expect_fetched_once_by_wow_fetch(out)
      expect(installed_gems).not_to include("puma-6.4.2.gem", "nio4r-2.7.0.gem")
      expect(@mirror.gem_downloads.keys).not_to include("puma-6.4.2.gem", "nio4r-2.7.0.gem")
    end

    it "puts the gems where Bundler looks with global_gem_cache" do
      out = bundle_install(env: { "BUNDLE_GLOBAL_GEM_CACHE" => "true" })
      expect_fetched_once_by_wow_fetch(out)
      cached = Dir[File.join(@dir, "home", ".bundle", "cache", "gems", "*", "*.gem")].map { |path| File.basename(path) }
      expect(cached).to match_array(installed_from_mirror)
    end

    it "installs into deployment's vendor/bundle" do
      out = bundle_install(env: { "BUNDLE_PATH" => nil, "BUNDLE_DEPLOYMENT" => "true" })
      expect_fetched_once_by_wow_fetch(out, File.join(@app, "vendor", "bundle"))
    end

    it "never breaks `bundle install`: a gem it cannot verify is left to Bundler" do
      # The mirror flips bytes in its first two answers for rack: wow-fetch's attempt and its one
      # retry from scratch. Bundler's own download after that gets the real file.
      @mirror.add_faults({ path: { exact: "/gems/rack-3.0.9.gem" }, fault: "corrupt", times: 2 })
      out = bundle_install
      expect(out).to include("wow-fetch: 1 of ")
      expect(out).to match(/^  ✗ rack-3\.0\.9\.gem: /)
      expect(out).to include("Bundle complete!")
      downloads = @mirror.gem_downloads
      expect(downloads.reject { |file, _| file == "rack-3.0.9.gem" }.values).to all(eq(1))
      expect(downloads["rack-3.0.9.gem"]).to be >= 3 # wow-fetch's two verified attempts, then Bundler's
      expect(installed_gems).to include("rack-3.0.9.gem")
    end

    it "can be switched off with WOW_FETCH_PLUGIN=0 (Bundler then downloads everything itself)" do
      out = timed_bundle_install("bundle install, plugin off", env: { "WOW_FETCH_PLUGIN" => "0" })
      expect(out).not_to include("wow-fetch:")
      expect(@mirror.gem_downloads).to eq(installed_from_mirror.to_h { |file| [file, 1] })
    end

    it "fetches nothing when everything is installed already" do
      bundle_install
      out = bundle_install
      expect(out).not_to include("wow-fetch:")
      expect(@mirror.gem_downloads).to eq({})
    end

    it "stays harmless when the server fails it: one warning, a normal install" do
      # Every request wow-fetch makes for a gem (one, then three retries) meets a 503; the server
      # is back when Bundler downloads the gem itself.
      items = Wow::Fetch::Lockfile.read(File.join(@app, "Gemfile.lock")).items
      files = items.map { |item| [item[:name], item[:version], item[:platform]].reject { |part| part == "ruby" }.join("-") }
      @mirror.add_faults(*files.map { |file| { path: { exact: "/gems/#{file}.gem" }, fault: { status: 503 }, times: 4 } })
      out = bundle_install
      expect(out.scan(/^wow-fetch: /).size).to eq(1)
      expect(out).to match(/^wow-fetch: \d+ of \d+ packages failed; Bundler downloaded them itself:$/)
      expect(out).to include("Bundle complete!")
      expect(installed_from_mirror.size).to be >= 30
    end
  end

  it "stays harmless when its extension cannot load: one warning, a normal install" do
    broken = File.join(@dir, "broken-checkout")
    FileUtils.mkdir_p(broken)
    FileUtils.cp_r(%w[lib exe plugins.rb wow-fetch.gemspec].map { |f| File.join(WowIntegration::ROOT, f) }, broken)
    FileUtils.rm_f(Dir[File.join(broken, "lib", "wow", "fetch", "**", "*.so")])
    make_app(%(plugin "wow-fetch", path: #{broken.inspect}))
    # The template was locked against the working plugin; this app points at the broken copy.
    gemfile = File.join(@app, "Gemfile")
    File.write(gemfile, File.read(gemfile).sub(/^plugin .*$/, %(plugin "wow-fetch", path: #{broken.inspect})))
    lockfile = File.join(@app, "Gemfile.lock")
    File.write(lockfile, File.read(lockfile).gsub(WowIntegration::ROOT, broken))
    out = bundle_install
    expect(out.scan(/^wow-fetch: prefetch skipped \(LoadError: /).size).to eq(1)
    expect(out).to include("Bundle complete!")
    expect(@mirror.gem_downloads).to eq(installed_from_mirror.to_h { |file| [file, 1] })
  end

  context "added with `plugin \"wow-fetch\"` from a gem source" do
    before { make_app(%(plugin "wow-fetch")) }

    it "installs the platform gem without compiling, and fetches every gem once by wow-fetch" do
      out = bundle_install
      expect(out).to include("Installed plugin wow-fetch")
      expect(out).not_to include("plugin paths don't exist")
      expect_fetched_once_by_wow_fetch(out)
      plugin_root = File.join(@app, ".bundle", "plugin")
      expect(Dir[File.join(plugin_root, "gems", "wow-fetch-*")].map { |dir| File.basename(dir) }).to eq(["wow-fetch-#{Wow::Fetch::VERSION}-x86_64-linux"])
      expect(Dir[File.join(plugin_root, "extensions", "**", "gem_make.out")]).to eq([])

      # The next install neither reinstalls the plugin nor downloads it again; with the bundle
      # gone, wow-fetch places every gem from its own cache, and nobody downloads anything.
      FileUtils.rm_rf(File.join(@dir, "bundle"))
      out = bundle_install
      expect(out).not_to include("Installed plugin wow-fetch")
      expect(out).to match(/^wow-fetch: prepared #{installed_from_mirror.size} packages in \d+\.\d\ds$/)
      expect(out).to include("Bundle complete!")
      expect(@mirror.gem_downloads).to eq({})
    end
  end

  context "installed with `bundle plugin install`" do
    before { make_app("") }

    # Run as a user sets a project up: not frozen (Bundler 2.3 resolves a plugin against the
    # app's lockfile when frozen, finds nothing and crashes).
    def plugin_install(*args)
      run_bundle(@app, "plugin", "install", "wow-fetch", *args, env: { "BUNDLE_FROZEN" => nil })
    end

    it "from a gem source: --source URL" do
      plugin_install("--source", "https://localhost:#{port}")
      expect_fetched_once_by_wow_fetch(bundle_install)
    end

    it "from a checkout: --path DIR, where this Bundler has --path" do
      help, = Open3.capture2e(bundle_env, *bundle_command, "plugin", "install", "--help", chdir: @app)
      unless help.include?("--path")
        # Bundler 2.3 has no --path; that is Bundler's limit, stated in the README, not ours.
        expect(Gem::Version.new(WowIntegration.bundler_version || Bundler::VERSION)).to be < Gem::Version.new("2.5")
        next
      end
      plugin_install("--path", WowIntegration::ROOT)
      expect_fetched_once_by_wow_fetch(bundle_install)
    end
  end
end
