# frozen_string_literal: true

require "digest"
require "fileutils"
require "open3"
require "tmpdir"
require "wow/fetch/lockfile"
require_relative "mirror_helper"

# `bundle install` of a Rails-sized project from the local mirror with the plugin added the way a
# user adds it (`plugin "wow-fetch", path: ...` in the Gemfile): every .gem is fetched exactly
# once, by wow-fetch, and the bundle is complete.
RSpec.describe "Bundler plugin (plugins.rb)" do
  before(:all) do
    reason = WowIntegration.missing
    reason ||= "wow-fetch.gemspec is missing" unless File.exist?(File.join(WowIntegration::ROOT, "wow-fetch.gemspec"))
    skip(reason) if reason

    # Bundler 2.3 accepts a compact-index ETag only if it is the MD5 of the body (rubygems.org's
    # scheme); --no-etags keeps the mirror's other ETags out of the way.
    @mirror = WowIntegration::Mirror.start(args: ["--no-etags"])
    @gems = WowIntegration.gem_files.to_h { |g| [g.full_name, g] }
    @template = Dir.mktmpdir("wow-bundler-template")
    @dir = @template
    write_project(File.join(@template, "app"))
  end

  after(:all) do
    @mirror&.stop
    FileUtils.rm_rf(@template) if @template
  end

  around do |example|
    Dir.mktmpdir("wow-bundler") do |dir|
      @dir = dir
      @app = File.join(dir, "app")
      FileUtils.mkdir_p(File.join(dir, "home")) # else Bundler picks a temporary home
      FileUtils.cp_r(File.join(@template, "app"), @app)
      example.run
    end
  end

  # Two sources (the mirror as localhost and as 127.0.0.1, so two GEM sections), platform gems
  # (nokogiri for ruby and this platform, pg and sqlite3 for this platform only), and a CHECKSUMS
  # section, which Bundler 2.3 ignores and the plugin verifies.
  def write_project(app)
    FileUtils.mkdir_p([app, File.join(@dir, "home")])
    port = URI(@mirror.url).port
    File.write(File.join(app, "Gemfile"), <<~GEMFILE)
      source "https://localhost:#{port}"
      gem "rails", "7.1.3"
      gem "puma"
      gem "nokogiri"

      source "https://127.0.0.1:#{port}" do
        gem "pg"
        gem "sqlite3"
      end

      plugin "wow-fetch", path: #{WowIntegration::ROOT.inspect}
    GEMFILE
    run_bundle(app, "lock", env: { "BUNDLE_FROZEN" => nil })
    run_bundle(app, "lock", "--add-platform", "ruby", env: { "BUNDLE_FROZEN" => nil })
    lockfile = File.join(app, "Gemfile.lock")
    lines = Wow::Fetch::Lockfile.read(lockfile).specs.map do |spec|
      "  #{spec.name} (#{spec.full_name.delete_prefix("#{spec.name}-")}) sha256=#{@gems.fetch(spec.full_name).sha256}\n"
    end
    File.write(lockfile, File.read(lockfile).sub("\nBUNDLED WITH", "\nCHECKSUMS\n#{lines.join}\nBUNDLED WITH"))
  end

  def bundle_env(extra = {})
    {
      "HOME" => File.join(@dir, "home"), "BUNDLE_USER_HOME" => nil, "BUNDLE_APP_CONFIG" => nil,
      "BUNDLE_GEMFILE" => nil, "BUNDLE_PATH" => File.join(@dir, "bundle"), "BUNDLE_FROZEN" => "true",
      "GEM_HOME" => nil, "GEM_PATH" => nil, "RUBYOPT" => nil, "RUBYLIB" => nil,
      "WOW_CACHE_DIR" => File.join(@dir, "wow-cache"), "NO_COLOR" => "1",
    }.merge(@mirror.env).merge(extra)
  end

  def run_bundle(app, *args, env: {})
    out, status = Open3.capture2e(bundle_env(env), "bundle", *args, chdir: app)
    raise "bundle #{args.join(" ")} failed:\n#{out}" unless status.success?

    out
  end

  def bundle_install(env: {})
    @mirror.reset_stats
    run_bundle(@app, "install", env: env)
  end

  # The .gem files this platform installs, by the lockfile (checked against Bundler below).
  def expected_gem_files
    Wow::Fetch::Lockfile.read(File.join(@app, "Gemfile.lock")).items.map do |item|
      [item[:name], item[:version], item[:platform]].reject { |part| part == "ruby" }.join("-") + ".gem"
    end
  end

  def installed_gems(bundle_path = File.join(@dir, "bundle"))
    Dir[File.join(bundle_path, "ruby", "*", "specifications", "*.gemspec")].map { |path| File.basename(path, ".gemspec") + ".gem" }
  end

  it "has a lockfile of 30+ gems from two sources, with platform gems and CHECKSUMS" do
    lock = Wow::Fetch::Lockfile.read(File.join(@app, "Gemfile.lock"))
    expect(lock.items.size).to be >= 30
    expect(lock.items.map { |item| item[:source] }.uniq.size).to eq(2)
    expect(lock.specs.map(&:full_name)).to include("nokogiri-1.16.2", "nokogiri-1.16.2-#{Gem::Platform.local}")
    expect(lock.items).to all(include(:sha256))
  end

  it "fetches every gem exactly once, by wow-fetch, and the install succeeds" do
    out = bundle_install
    expect(out).to include("Installed plugin wow-fetch")
    expect(out).to match(/^wow-fetch: prepared #{expected_gem_files.size} packages in \d+\.\d\ds$/)
    expect(out).to include("Bundle complete!")
    expect(@mirror.gem_downloads).to eq(expected_gem_files.to_h { |file| [file, 1] })
    expect(installed_gems).to match_array(expected_gem_files)
  end

  it "puts the gems where Bundler looks with global_gem_cache" do
    out = bundle_install(env: { "BUNDLE_GLOBAL_GEM_CACHE" => "true" })
    expect(out).to match(/^wow-fetch: prepared \d+ packages/)
    expect(@mirror.gem_downloads).to eq(expected_gem_files.to_h { |file| [file, 1] })
    cached = Dir[File.join(@dir, "home", ".bundle", "cache", "gems", "*", "*.gem")].map { |path| File.basename(path) }
    expect(cached).to match_array(expected_gem_files)
    expect(installed_gems).to match_array(expected_gem_files)
  end

  it "installs into deployment's vendor/bundle" do
    out = bundle_install(env: { "BUNDLE_PATH" => nil, "BUNDLE_DEPLOYMENT" => "true" })
    expect(out).to match(/^wow-fetch: prepared \d+ packages/)
    expect(@mirror.gem_downloads.values).to all(eq(1))
    expect(installed_gems(File.join(@app, "vendor", "bundle"))).to match_array(expected_gem_files)
  end

  it "never breaks `bundle install`: a gem it cannot verify is left to Bundler" do
    lockfile = File.join(@app, "Gemfile.lock")
    rack = @gems.fetch("rack-3.0.9")
    File.write(lockfile, File.read(lockfile).sub(rack.sha256, "0" * 64))
    out = bundle_install
    expect(out).to include("wow-fetch: 1 of #{expected_gem_files.size} packages failed; Bundler downloaded them itself:")
    expect(out).to match(/^  ✗ rack-3\.0\.9\.gem: /)
    expect(out).to include("Bundle complete!")
    downloads = @mirror.gem_downloads
    expect(downloads.reject { |file, _| file == "rack-3.0.9.gem" }.values).to all(eq(1))
    expect(downloads["rack-3.0.9.gem"]).to be >= 2 # wow-fetch's verified attempts, then Bundler's
    expect(installed_gems).to match_array(expected_gem_files)
  end

  it "can be switched off with WOW_FETCH_PLUGIN=0 (Bundler then downloads everything itself)" do
    out = bundle_install(env: { "WOW_FETCH_PLUGIN" => "0" })
    expect(out).not_to include("wow-fetch:")
    expect(@mirror.gem_downloads).to eq(expected_gem_files.to_h { |file| [file, 1] })
    expect(installed_gems).to match_array(expected_gem_files)
  end

  it "fetches nothing when everything is installed already" do
    bundle_install
    out = bundle_install
    expect(out).not_to include("wow-fetch:")
    expect(@mirror.gem_downloads).to eq({})
  end
end
