# frozen_string_literal: true

require "json"
require "open3"
require "rbconfig"
require "tmpdir"
require "fileutils"

# Where the plugin puts each gem: computed by Bundler itself in a child process (Bundler keeps
# global state) for a project on disk, under the settings that move Bundler's cache. Nothing is
# downloaded here; spec/integration/bundler_plugin_spec.rb runs a real `bundle install`.
RSpec.describe "Wow::Fetch::BundlerCache" do
  lib = File.expand_path("../../../lib", __dir__)
  define_method(:child_rubylib) { [lib, ENV["RUBYLIB"]].compact.join(File::PATH_SEPARATOR) }

  gemfile = <<~GEMFILE
    source "https://gems.example.test"
    gem "activesupport"
    gem "nokogiri"
    group :test do
      gem "rack"
    end
    source "https://private.example.test" do
      gem "secret_sauce"
    end
    gem "mine", path: "mine"
  GEMFILE

  lockfile = <<~LOCK
    PATH
      remote: mine
      specs:
        mine (0.1.0)

    GEM
      remote: https://gems.example.test/
      specs:
        activesupport (7.1.3)
          concurrent-ruby (~> 1.0, >= 1.0.2)
          i18n (>= 1.6, < 2)
        concurrent-ruby (1.2.3)
        i18n (1.14.1)
          concurrent-ruby (~> 1.0)
        nokogiri (1.16.0)
          racc (~> 1.4)
        nokogiri (1.16.0-arm64-darwin)
          racc (~> 1.4)
        nokogiri (1.16.0-#{Gem::Platform.local})
          racc (~> 1.4)
        racc (1.7.3)
        rack (3.0.8)

    GEM
      remote: https://private.example.test/
      specs:
        secret_sauce (2.0.0)

    PLATFORMS
      arm64-darwin
      ruby
      #{Gem::Platform.local}

    DEPENDENCIES
      activesupport
      mine!
      nokogiri
      rack
      secret_sauce!

    CHECKSUMS
      rack (3.0.8) sha256=#{"c" * 64}
  LOCK

  around do |example|
    Dir.mktmpdir("wow-bundler-cache") do |dir|
      @dir = File.realpath(dir)
      @app = File.join(@dir, "app")
      @home = File.join(@dir, "home")
      FileUtils.mkdir_p([File.join(@app, "mine"), @home])
      File.write(File.join(@app, "Gemfile"), gemfile)
      File.write(File.join(@app, "Gemfile.lock"), lockfile)
      File.write(File.join(@app, "mine", "mine.gemspec"),
                 %(Gem::Specification.new { |s| s.name = "mine"; s.version = "0.1.0"; s.summary = "x"; s.authors = ["x"] }))
      example.run
    end
  end

  # [[url, sha256 or nil, dir relative to @dir], ...] sorted, as the plugin would fetch them.
  def entries(env = {})
    script = <<~'RUBY'
      require "bundler"
      require "json"
      require "wow/fetch/bundler_cache"
      list = Wow::Fetch::BundlerCache.new(Bundler.definition).entries
      puts JSON.generate(list.map { |e| [e.item[:url], e.item[:sha256], e.dir] })
    RUBY
    base = { "BUNDLE_GEMFILE" => File.join(@app, "Gemfile"), "HOME" => @home, "BUNDLE_USER_HOME" => nil,
             "BUNDLE_PATH" => File.join(@dir, "bundle"), "BUNDLE_APP_CONFIG" => nil, "GEM_HOME" => nil, "GEM_PATH" => nil }
    base["BUNDLE_PATH"] = nil if env.key?("BUNDLE_PATH") || env.key?("BUNDLE_DEPLOYMENT")
    env = base.merge(env).merge("RUBYLIB" => child_rubylib)
    out, err, status = Open3.capture3(env.compact, RbConfig.ruby, "-e", script, chdir: @app)
    raise "child failed: #{err}" unless status.success?

    JSON.parse(out).map { |url, sha, dir| [url, sha, dir.delete_prefix("#{@dir}/")] }.sort
  end

  let(:platform) { Gem::Platform.local.to_s }
  let(:all_gems) do
    %W[activesupport-7.1.3 concurrent-ruby-1.2.3 i18n-1.14.1 nokogiri-1.16.0-#{Gem::Platform.local} racc-1.7.3 rack-3.0.8]
  end

  def urls(list)
    list.map(&:first)
  end

  it "lists every remote gem of the lockfile for this platform, with its checksum, into <bundle path>/cache" do
    list = entries
    expect(urls(list)).to eq(
      (all_gems.map { |g| "https://gems.example.test/gems/#{g}.gem" } +
       ["https://private.example.test/gems/secret_sauce-2.0.0.gem"]).sort,
    )
    expect(list.map(&:last).uniq).to eq(["bundle/ruby/#{RbConfig::CONFIG["ruby_version"]}/cache"])
    expect(list.find { |url, _, _| url.end_with?("rack-3.0.8.gem") }[1]).to eq("c" * 64)
    expect(list.count { |_, sha, _| sha }).to eq(1)
  end

  it "follows BUNDLE_PATH and deployment" do
    expect(entries("BUNDLE_PATH" => "vendor/bundle").map(&:last).uniq)
      .to eq(["app/vendor/bundle/ruby/#{RbConfig::CONFIG["ruby_version"]}/cache"])
    expect(entries("BUNDLE_DEPLOYMENT" => "true").map(&:last).uniq)
      .to eq(["app/vendor/bundle/ruby/#{RbConfig::CONFIG["ruby_version"]}/cache"])
  end

  it "follows system gems (BUNDLE_PATH__SYSTEM) into GEM_HOME's cache" do
    gem_home = File.join(@dir, "gemhome")
    list = entries("BUNDLE_PATH" => nil, "BUNDLE_PATH__SYSTEM" => "true", "GEM_HOME" => gem_home)
    expect(list.map(&:last).uniq).to eq(["gemhome/cache"])
  end

  it "follows global_gem_cache into one directory per remote" do
    dirs = entries("BUNDLE_GLOBAL_GEM_CACHE" => "true").map(&:last).uniq
    expect(dirs.size).to eq(2)
    expect(dirs).to all(start_with("home/.bundle/cache/gems/"))
    expect(dirs.map { |d| File.basename(d) }).to contain_exactly(
      start_with("gems.example.test.443."), start_with("private.example.test.443."),
    )
  end

  it "applies Bundler's mirrors and credentials" do
    list = entries("BUNDLE_MIRROR__HTTPS://GEMS__EXAMPLE__TEST/" => "https://mirror.corp.test/m",
                   "BUNDLE_MIRROR__CORP__TEST" => "ci:t0ken", "BUNDLE_PRIVATE__EXAMPLE__TEST" => "key:")
    expect(urls(list)).to include("https://ci:t0ken@mirror.corp.test/m/gems/rack-3.0.8.gem",
                                  "https://key:@private.example.test/gems/secret_sauce-2.0.0.gem")
  end

  it "warns, at warning level, when it cannot read the lockfile's CHECKSUMS (downloads go unverified)" do
    script = <<~'RUBY'
      require "bundler"
      require "wow/fetch/bundler_cache"
      Bundler.ui = Bundler::UI::Shell.new # a plain script's Bundler.ui prints nothing
      broken = Module.new do
        def read(path, **)
          raise Wow::Fetch::Lockfile::ParseError.new("cannot parse spec \"x\"", path: path, line_number: 3)
        end
      end
      Wow::Fetch::Lockfile.singleton_class.prepend(broken)
      entries = Wow::Fetch::BundlerCache.new(Bundler.definition).entries
      puts entries.count { |e| e.item[:sha256] }
    RUBY
    env = { "BUNDLE_GEMFILE" => File.join(@app, "Gemfile"), "HOME" => @home, "BUNDLE_USER_HOME" => nil,
            "BUNDLE_PATH" => File.join(@dir, "bundle"), "BUNDLE_APP_CONFIG" => nil, "RUBYLIB" => child_rubylib }
    out, err, status = Open3.capture3(env.compact, RbConfig.ruby, "-e", script, chdir: @app)
    expect(status).to be_success, err
    expect(out.strip).to eq("0")
    expect((out + err).scan(/^wow-fetch: not verifying downloads against the lockfile's CHECKSUMS: .*cannot parse spec "x"/).size).to eq(1)
  end

  it "leaves out groups Bundler will not install" do
    expect(urls(entries("BUNDLE_WITHOUT" => "test")).grep(/rack/)).to be_empty
  end

  it "leaves out gems already installed, already in the cache or in vendor/cache" do
    cache = File.join(@dir, "bundle", "ruby", RbConfig::CONFIG["ruby_version"], "cache")
    specs = File.join(@dir, "bundle", "ruby", RbConfig::CONFIG["ruby_version"], "specifications")
    FileUtils.mkdir_p([cache, specs, File.join(@app, "vendor", "cache")])
    File.write(File.join(cache, "racc-1.7.3.gem"), "x")
    File.write(File.join(specs, "i18n-1.14.1.gemspec"), "x")
    File.write(File.join(@app, "vendor", "cache", "rack-3.0.8.gem"), "x")
    expect(urls(entries).grep(/racc|i18n|rack/)).to be_empty
  end

  it "fetches nothing for `bundle update` (the lockfile is not what will be installed)" do
    script = <<~'RUBY'
      require "bundler"
      require "wow/fetch/bundler_cache"
      p Wow::Fetch::BundlerCache.new(Bundler.definition(true)).entries.size
    RUBY
    env = { "BUNDLE_GEMFILE" => File.join(@app, "Gemfile"), "HOME" => @home,
            "RUBYLIB" => child_rubylib }
    out, err, status = Open3.capture3(env, RbConfig.ruby, "-e", script, chdir: @app)
    expect(status).to be_success, err
    expect(out).to eq("0\n")
  end
end
