# frozen_string_literal: true

require "fileutils"
require "json"
require "open3"
require "tmpdir"
require "wow/fetch/bundler_settings"
require "wow/fetch/lockfile"
require_relative "mirror_helper"

# The command line and the Rake task read lockfiles and Bundler's settings with their own code
# (lib/wow/fetch/lockfile.rb, bundler_settings.rb, gemfile_groups.rb), so that they work without
# a bundle. Here, in each cell of the compatibility matrix, that code is held against the
# Bundler of the cell: the gems `wow-fetch --lockfile` fetches against what `bundle install`
# installs (platform variants, `without` and optional groups), and the URL each source is
# fetched from (mirrors, credentials) against Bundler's own Source::Rubygems::Remote.
RSpec.describe "wow-fetch --lockfile agrees with Bundler", bundler: true do
  before(:all) do
    reason = WowIntegration.missing
    raise "cannot compare with Bundler: #{reason}" if reason

    @gem_dir = WowIntegration.bundler_gem_dir
    @mirror = WowIntegration::Mirror.start(gems: @gem_dir, args: ["--no-etags"])
    @port = URI(@mirror.url).port
  end

  after(:all) do
    @mirror&.stop
    FileUtils.rm_rf(@gem_dir) if @gem_dir
  end

  around do |example|
    Dir.mktmpdir("wow-agree") do |dir|
      @dir = dir
      @app = File.join(dir, "app")
      @home = File.join(dir, "home")
      FileUtils.mkdir_p([@app, @home])
      example.run
    end
  end

  # Ruby with the cell's Bundler activated.
  def ruby_with_bundler
    [RbConfig.ruby, "-e", %(gem "bundler", "= #{WowIntegration.bundler_version || Bundler::VERSION}"; load ARGV.shift)]
  end

  def env(extra = {})
    WowIntegration.isolated_bundler_env(home: @home, bundle_path: File.join(@dir, "bundle"), cache_dir: File.join(@dir, "wow-cache"))
                  .merge("WOW_FETCH_PLUGIN" => "0").merge(@mirror.env).merge(extra)
  end

  def bundle(*args, env: {})
    out, status = Open3.capture2e(env(env), *WowIntegration.bundle_command, *args, chdir: @app)
    raise "bundle #{args.join(" ")} failed:\n#{out}" unless status.success?

    out
  end

  def write_gemfile
    File.write(File.join(@app, "Gemfile"), <<~GEMFILE)
      source "https://localhost:#{@port}"
      gem "rails", "7.1.3"
      gem "nokogiri"

      group :server do
        gem "puma"
      end

      group :debugging, optional: true do
        gem "webrick"
      end

      source "https://127.0.0.1:#{@port}" do
        gem "pg"
      end
    GEMFILE
    bundle("lock", env: { "BUNDLE_FROZEN" => nil })
    bundle("lock", "--add-platform", "ruby", env: { "BUNDLE_FROZEN" => nil })
  end

  # The .gem files `wow-fetch --lockfile` fetches, run as a user runs it (with the cell's Bundler
  # for the Gemfile's groups).
  def cli_fetches(extra_env)
    exe = File.join(WowIntegration::ROOT, "exe", "wow-fetch")
    out, err, status = Open3.capture3(env(extra_env).merge("RUBYLIB" => WowIntegration::LIB), *ruby_with_bundler, exe,
                                      "--lockfile", "Gemfile.lock", "--json", chdir: @app)
    raise "wow-fetch failed:\n#{out}#{err}" unless status.success?

    out.lines.map { |line| "#{JSON.parse(line).fetch("full_name")}.gem" }
  end

  def installed(extra_env)
    bundle("install", env: extra_env)
    Dir[File.join(@dir, "bundle", "ruby", "*", "specifications", "*.gemspec")].map { |path| File.basename(path, ".gemspec") + ".gem" }
  end

  {
    "no group settings" => {},
    "BUNDLE_WITHOUT=server" => { "BUNDLE_WITHOUT" => "server" },
    "BUNDLE_WITH=debugging (an optional group)" => { "BUNDLE_WITH" => "debugging" },
    "BUNDLE_ONLY=default" => { "BUNDLE_ONLY" => "default" },
  }.each do |label, settings|
    it "fetches exactly the gems `bundle install` installs, #{label}" do
      write_gemfile
      fetched = cli_fetches(settings)
      expect(fetched).to match_array(installed(settings))
      expect(fetched).to include("nokogiri-1.16.2-x86_64-linux.gem")
      expect(fetched).not_to include("nokogiri-1.16.2.gem", "mini_portile2-2.8.5.gem")
    end
  end

  # Bundler's answer for each remote: Source::Rubygems::Remote applies the mirror, then the
  # credentials, exactly as its downloads do.
  def bundler_remotes(remotes, extra_env)
    File.write(File.join(@app, "Gemfile"), %(source "https://localhost:#{@port}"\n))
    script = File.join(@dir, "remotes.rb")
    File.write(script, <<~RUBY)
      require "bundler"
      require "json"
      puts JSON.generate(ARGV.map { |remote| Bundler::Source::Rubygems::Remote.new(Bundler::Source::Rubygems.new("remotes" => [remote]).remotes.first).uri.to_s })
    RUBY
    out, status = Open3.capture2e(env(extra_env), *ruby_with_bundler, script, *remotes, chdir: @app)
    raise "Bundler failed:\n#{out}" unless status.success?

    JSON.parse(out.lines.last)
  end

  {
    "nothing configured" => [{}, nil, nil],
    "a mirror for all sources" => [{ "BUNDLE_MIRROR__ALL" => "https://mirror.example.test/all/" }, nil, nil],
    "a mirror for one source, in the environment" => [{ "BUNDLE_MIRROR__HTTPS://GEMS__EXAMPLE__TEST/" => "https://mirror.example.test/" }, nil, nil],
    "credentials for a host, in the environment" => [{ "BUNDLE_GEMS__EXAMPLE__TEST" => "ci-user:s3cr%40t" }, nil, nil],
    "credentials for a full URI, in the app's .bundle/config" => [{}, { "BUNDLE_HTTPS://PRIVATE__EXAMPLE__TEST/ACCT/" => "token:x-oauth-basic" }, nil],
    "a mirror and its credentials, in ~/.bundle/config" => [{}, nil, { "BUNDLE_MIRROR__HTTPS://GEMS__EXAMPLE__TEST/" => "https://cache.example.test/", "BUNDLE_CACHE__EXAMPLE__TEST" => "m:pw" }],
    "app config over the environment over the global config" => [
      { "BUNDLE_GEMS__EXAMPLE__TEST" => "from-env:1" }, { "BUNDLE_GEMS__EXAMPLE__TEST" => "from-app:2" },
      { "BUNDLE_GEMS__EXAMPLE__TEST" => "from-home:3" },
    ],
  }.each do |label, (env_settings, app_config, home_config)|
    it "fetches each source from the URL Bundler uses: #{label}" do
      { File.join(@app, ".bundle") => app_config, File.join(@home, ".bundle") => home_config }.each do |dir, config|
        next unless config

        FileUtils.mkdir_p(dir)
        File.write(File.join(dir, "config"), "---\n#{config.map { |key, value| "#{key}: #{value.inspect}\n" }.join}")
      end
      remotes = %w[https://gems.example.test/ https://private.example.test/acct/ https://localhost:8443/]
      ours = Wow::Fetch::BundlerSettings.new(root: @app, env: env(env_settings).compact, home: @home)
      expect(remotes.map { |remote| ours.remote(remote) }).to eq(bundler_remotes(remotes, env_settings))
    end
  end
end
