# frozen_string_literal: true

require "digest"
require "fileutils"
require "open3"
require "rbconfig"
require "rubygems/package"
require "rubygems/user_interaction"
require "tmpdir"
require_relative "../support/mirror_process"

# What the end-to-end specs of the command line, the Rake task and the Bundler plugin share: the
# local HTTPS mirror (crates/mirror, run as a child process and asked for its /_stats), its demo
# gem set, and whether the compiled extension loads. Specs skip, saying what is missing, when the
# mirror binary (in $CARGO_TARGET_DIR or target/) or the extension is not built; in CI they fail.
module WowIntegration
  ROOT = File.expand_path("../..", __dir__)
  LIB = File.join(ROOT, "lib")
  EXE = File.join(ROOT, "exe", "wow-fetch")

  # One gem file of the mirror's set.
  GemFile = Struct.new(:name, :version, :platform, :path, :sha256, keyword_init: true) do
    def full_name
      platform == "ruby" ? "#{name}-#{version}" : "#{name}-#{version}-#{platform}"
    end
  end

  module_function

  # Where cargo builds: $CARGO_TARGET_DIR (relative to the checkout, as cargo reads it), else
  # target/ in the checkout.
  def target_dir
    dir = ENV["CARGO_TARGET_DIR"].to_s
    dir.empty? ? File.join(ROOT, "target") : File.expand_path(dir, ROOT)
  end

  def mirror_binary
    return ENV["WOW_MIRROR_BIN"] if ENV["WOW_MIRROR_BIN"]

    candidates = Dir[File.join(target_dir, "{release,debug}", "wow-mirror")].select { |path| File.executable?(path) }
    candidates.max_by { |path| File.mtime(path) }
  end

  # The Bundler of this cell of the compatibility matrix (bin/matrix sets WOW_BUNDLER_VERSION),
  # else nil: the one `bundle` and `require "bundler"` pick.
  def bundler_version
    ENV["WOW_BUNDLER_VERSION"]
  end

  # `bundle`, running the cell's Bundler.
  def bundle_command
    bundler_version ? ["bundle", "_#{bundler_version}_"] : ["bundle"]
  end

  # The environment of a Bundler run cut off from this machine's: its own HOME, bundle path and
  # wow-fetch cache, no inherited Bundler or RubyGems settings.
  def isolated_bundler_env(home:, bundle_path:, cache_dir:)
    {
      "HOME" => home, "BUNDLE_USER_HOME" => nil, "BUNDLE_APP_CONFIG" => nil, "BUNDLE_GEMFILE" => nil,
      "BUNDLE_PATH" => bundle_path, "GEM_HOME" => nil, "GEM_PATH" => nil, "RUBYOPT" => nil, "RUBYLIB" => nil,
      "WOW_CACHE_DIR" => cache_dir, **rust_toolchain_env
    }
  end

  # rustup finds its toolchain through HOME, which Bundler runs here replace: a source gem
  # compiled inside such a run (a plugin installed from the source gem) needs these.
  def rust_toolchain_env
    home = Dir.home
    {
      "RUSTUP_HOME" => ENV.fetch("RUSTUP_HOME", File.join(home, ".rustup")),
      "CARGO_HOME" => ENV.fetch("CARGO_HOME", File.join(home, ".cargo")),
    }
  end

  # nil when `require "wow/fetch"` works in a child Ruby, else the first line of why not.
  def extension_error
    return @extension_error if defined?(@extension_error)

    _, err, status = Open3.capture3(RbConfig.ruby, "-I", LIB, "-e", 'require "wow/fetch"; Wow::Fetcher.method(:download_all)')
    @extension_error = status.success? ? nil : err.lines.first.to_s.strip
  end

  # Why the end-to-end specs cannot run here, or nil. In CI (`CI` set) nothing may be missing:
  # then this raises, so the run fails instead of passing with the end-to-end specs skipped.
  def missing
    reason = if !mirror_binary
               "the wow-mirror binary is not built in #{target_dir} (cargo build -p wow-mirror)"
             elsif extension_error
               "the extension does not load (#{extension_error}); build it first"
             end
    raise "#{reason}; CI is set, so the end-to-end specs must run, not skip" if reason && !ENV["CI"].to_s.empty?

    reason
  end

  # The demo gem set (`wow-mirror fixtures --set demo`), written once per process; or the
  # directory in $WOW_MIRROR_GEMS.
  def demo_gems
    @demo_gems ||= ENV["WOW_MIRROR_GEMS"] || begin
      dir = Dir.mktmpdir("wow-demo-gems")
      at_exit { FileUtils.rm_rf(dir) }
      out, status = Open3.capture2e(mirror_binary, "fixtures", "--out", dir, "--set", "demo")
      raise "wow-mirror fixtures failed: #{out}" unless status.success?

      dir
    end
  end

  # A gem directory for `bundle lock` and `bundle install`, shaped like rubygems.org where the
  # demo set is not: the demo set, plus stand-ins for
  # - a `ruby` variant of each gem the set has only for x86_64-linux (pg, sqlite3): Bundler 2.6+
  #   refuses `bundle lock --add-platform ruby` for a gem without one;
  # - each default gem of this Ruby (irb, psych, … at the version Ruby ships) that the set has
  #   under another version: Bundler may lock the version Ruby ships, and Bundler 2.5+ then
  #   installs it from the source, where rubygems.org always has it.
  # Plus `extra` files.
  def bundler_gem_dir(extra: [])
    dir = Dir.mktmpdir("wow-bundler-gems")
    FileUtils.cp(Dir[File.join(demo_gems, "*.gem")] + extra, dir)
    demo = gem_files
    demo.group_by(&:name).each_value do |variants|
      next if variants.any? { |g| g.platform == "ruby" }

      build_stand_in(dir, variants.first.name, variants.first.version, [], "the ruby variant")
    end
    names = demo.map(&:name).uniq
    Gem::Specification.select(&:default_gem?).each do |default|
      next unless names.include?(default.name) && demo.none? { |g| g.full_name == default.full_name }

      build_stand_in(dir, default.name, default.version.to_s, default.runtime_dependencies, "as this Ruby ships it")
    end
    dir
  end

  def build_stand_in(dir, name, version, dependencies, what)
    spec = Gem::Specification.new do |s|
      s.name = name
      s.version = version
      s.summary = "#{name} #{version}, #{what} (a stand-in for the compatibility matrix)"
      s.authors = ["wow-fetch specs"]
      s.files = []
      dependencies.each { |dependency| s.add_runtime_dependency(dependency.name, *dependency.requirement.as_list) }
    end
    Dir.chdir(dir) { Gem::DefaultUserInteraction.use_ui(Gem::SilentUI.new) { Gem::Package.build(spec) } }
  end

  # The gems of a directory, by file name (version: the first segment starting with a digit).
  def gem_files(dir = demo_gems)
    Dir[File.join(dir, "*.gem")].sort.map do |path|
      base = File.basename(path, ".gem")
      m = base.match(/\A(?<name>.+?)-(?<version>\d[^-]*)(?:-(?<platform>.+))?\z/)
      GemFile.new(name: m[:name], version: m[:version], platform: m[:platform] || "ruby", path: path,
                  sha256: Digest::SHA256.file(path).hexdigest)
    end
  end

  # A Gemfile.lock with one GEM section listing `gems` from `remote`, and their CHECKSUMS.
  def lockfile_for(gems, remote)
    specs = gems.map { |g| "    #{g.name} (#{g.platform == "ruby" ? g.version : "#{g.version}-#{g.platform}"})\n" }
    checksums = gems.map { |g| "  #{g.name} (#{g.platform == "ruby" ? g.version : "#{g.version}-#{g.platform}"}) sha256=#{g.sha256}\n" }
    "GEM\n  remote: #{remote}/\n  specs:\n#{specs.join}\nPLATFORMS\n  ruby\n  #{Gem::Platform.local}\n\n" \
      "DEPENDENCIES\n#{gems.map { |g| "  #{g.name}\n" }.uniq.join}\nCHECKSUMS\n#{checksums.join}\n"
  end

  # The mirror as a child process.
  class Mirror
    include WowMirrorProcess

    # @param args [Array<String>] more `wow-mirror serve` arguments (--latency-ms 50, --no-etags…)
    def self.start(gems: WowIntegration.demo_gems, args: [])
      mirror = new(gems, args)
      return mirror unless block_given?

      begin
        yield mirror
      ensure
        mirror.stop
      end
    end

    def initialize(gems, args)
      serve(WowIntegration.mirror_binary, gems, Dir.mktmpdir("wow-mirror"), args)
    end

    # Environment for a child that should trust the mirror (OpenSSL, Bundler and wow-fetch all
    # read SSL_CERT_FILE).
    def env
      { "SSL_CERT_FILE" => ca_file }
    end

    # {"rack-3.0.9.gem" => 1, ...}: downloads of each gem from its first byte since start or
    # reset (a file fetched in segments counts once).
    def gem_downloads
      stats.fetch("path_starts").filter_map { |path, count| [path.delete_prefix("/gems/"), count] if path.start_with?("/gems/") }.to_h
    end
  end
end
