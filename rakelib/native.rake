# frozen_string_literal: true

require "fileutils"
require "open3"
require "rbconfig"
require "rubygems/package"

# The precompiled platform gem, named as rake-compiler names it: `rake native:x86_64-linux gem`
# builds the extension once per Ruby minor of the compatibility matrix and then
# pkg/wow-fetch-VERSION-x86_64-linux.gem, which carries lib/wow/fetch/MINOR/wow_fetch.so (what
# lib/wow/fetch.rb loads first) and no `extensions`, so installing it compiles nothing.
#
# Each build links against glibc 2.17 through `cargo zigbuild` (zig's glibc stubs), so the
# library loads on any x86_64 Linux with glibc >= 2.17 (CentOS 7, Debian 8, Ubuntu 14.04 and
# later) although this machine has glibc 2.36; 2.17 is the oldest glibc Rust supports and the
# manylinux2014 baseline of Python's wheels. A plain build here needs GLIBC_2.34. zig and
# cargo-zigbuild come from PyPI into tmp/tools/ (the checkout is all the Debian 13 root
# filesystem sees of this machine, apart from the Rust toolchain).
module WowFetchNative
  extend Rake::FileUtilsExt # `sh` outside a task

  ROOT = File.expand_path("..", __dir__)
  PLATFORM = "x86_64-linux"
  RUST_TARGET = "x86_64-unknown-linux-gnu"
  GLIBC = "2.17"

  # The compatibility matrix: Ruby 3.1 is this machine's (Debian 12), 3.3 the Debian 13 root
  # filesystem's (bin/rootfs). A minor not listed gets no library, and required_ruby_version
  # keeps RubyGems from choosing this gem for it.
  RUBIES = { "3.1" => nil, "3.3" => "trixie" }.freeze

  # Pinned, so a release is reproducible: the pair this gem was built and tested with.
  ZIG_VERSION = "0.15.2"
  ZIGBUILD_VERSION = "0.24.1"

  # The source gem's Rust inputs: the platform gem has no extension to build.
  RUST_SOURCES = %r{\A(?:Cargo\.(?:toml|lock)\z|\.cargo/|crates/|ext/)}

  # What the library may need from the system. libruby is absent on purpose: the Ruby that
  # loads the library provides its symbols, whether it links libruby statically (rbenv,
  # ruby-build) or dynamically (Debian).
  ALLOWED_NEEDED = %w[libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libgcc_s.so.1
                      ld-linux-x86-64.so.2].freeze

  module_function

  def minor(version = RUBY_VERSION)
    version[/\A\d+\.\d+/]
  end

  def tools_dir
    File.join(ROOT, "tmp", "tools", "zigbuild-#{ZIGBUILD_VERSION}-zig-#{ZIG_VERSION}")
  end

  def tools_path
    [File.join(tools_dir, "bin"), File.join(tools_dir, "ziglang")].join(File::PATH_SEPARATOR)
  end

  # Installs zig and cargo-zigbuild (both static binaries in their wheels) unless present; into
  # a temporary directory first, so an interrupted install is never mistaken for a finished one.
  def ensure_tools
    return if File.executable?(File.join(tools_dir, "bin", "cargo-zigbuild")) &&
              File.executable?(File.join(tools_dir, "ziglang", "zig"))

    partial = "#{tools_dir}.partial"
    FileUtils.rm_rf(partial)
    # --target installs into a directory of its own, which Debian's externally-managed Python
    # allows, as root too.
    sh "python3", "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-compile",
       "--root-user-action=ignore", "--target", partial,
       "ziglang==#{ZIG_VERSION}", "cargo-zigbuild==#{ZIGBUILD_VERSION}"
    FileUtils.rm_rf(tools_dir)
    File.rename(partial, tools_dir)
  end

  # One cargo build tree per Ruby: rb-sys generates bindings for the Ruby it runs, and both
  # Rubies are /usr/bin/ruby, so a shared tree could reuse the wrong ones.
  def target_dir(minor)
    File.join(ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target")), "ruby-#{minor}")
  end

  def staged(minor)
    File.join(ROOT, "tmp", "native", PLATFORM, minor, "wow_fetch.so")
  end

  # Builds the library for the Ruby running this rake, stripped, into staged(minor).
  def build_for_this_ruby
    ensure_tools
    dir = target_dir(minor)
    env = {
      "CARGO_TARGET_DIR" => dir,
      "RUBY" => RbConfig.ruby, # rb-sys reads the headers and config of this Ruby
      "PATH" => [tools_path, ENV.fetch("PATH")].join(File::PATH_SEPARATOR),
      "ZIG_GLOBAL_CACHE_DIR" => File.join(dir, "zig-cache")
    }
    # The release profile, stripped of symbols: 7.7 MB instead of the 9.2 MB of an unstripped
    # release build for Ruby 3.1; a panic's backtrace then shows addresses only.
    # Run from ext/, not the root: zig 0.15 reports its lib directory relative to the working
    # directory when it lies below it (tmp/tools/…), cargo-zigbuild hands that to bindgen as
    # include paths, and bindgen runs in rb-sys's directory, where they resolve to nothing
    # ("'stdarg.h' file not found").
    sh env, "cargo", "zigbuild", "--release", "--config", "profile.release.strip=true", "-p", "wow-fetch-ext",
       "--target", "#{RUST_TARGET}.#{GLIBC}", chdir: File.join(ROOT, "ext")
    built = File.join(dir, RUST_TARGET, "release", "libwow_fetch.so")
    FileUtils.mkdir_p(File.dirname(staged(minor)))
    FileUtils.cp(built, staged(minor))
  end

  # Builds for every Ruby of the matrix: in this process for this machine's, else by running
  # this same task in the root filesystem with the toolchain mounted.
  def build_all
    RUBIES.each do |want, rootfs|
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      if rootfs.nil?
        raise "the matrix builds Ruby #{want} here, but this is Ruby #{RUBY_VERSION}" unless minor == want

        build_for_this_ruby
      else
        # The root filesystem sees only the checkout, so its build tree must live inside it.
        base = ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target"))
        base = File.join(ROOT, "target") unless File.expand_path(base).start_with?("#{ROOT}/")
        sh File.join(ROOT, "bin", "rootfs"), "run", "--toolchain", "--env", "CARGO_TARGET_DIR=#{base}", rootfs, "--",
           "rake", "native:#{PLATFORM}:this_ruby", "WOW_FETCH_EXPECT_MINOR=#{want}"
      end
      check_library(want)
      took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
      $stderr.puts format("native: Ruby %<minor>s library built in %<s>.0f s", minor: want, s: took)
    end
  end

  # The checks that make the library portable, on the file itself: no glibc symbol newer than
  # the baseline, no libraries outside glibc's and libgcc's, and stripped.
  def check_library(minor)
    path = staged(minor)
    raise "#{path} is missing after the Ruby #{minor} build" unless File.file?(path)

    glibc = highest_glibc(path)
    if glibc > Gem::Version.new(GLIBC)
      raise "#{path} needs GLIBC_#{glibc}, newer than the #{GLIBC} baseline"
    end

    extra = needed(path) - ALLOWED_NEEDED
    raise "#{path} needs #{extra.join(", ")}: not part of glibc" unless extra.empty?

    out = capture("objdump", "-h", path)
    raise "#{path} is not stripped (it has .symtab or .debug sections)" if out.match?(/\s\.(symtab|debug_\w+)\s/)

    $stderr.puts format("native: %<path>s: %<mb>.2f MB, highest symbol GLIBC_%<glibc>s, needs %<needed>s",
                path: path.delete_prefix("#{ROOT}/"), mb: File.size(path) / 1e6, glibc: glibc,
                needed: needed(path).join(" "))
  end

  def highest_glibc(path)
    capture("objdump", "-T", path).scan(/\bGLIBC_(\d+(?:\.\d+)+)/).flatten.map { |v| Gem::Version.new(v) }.max
  end

  def needed(path)
    capture("objdump", "-p", path).scan(/^\s*NEEDED\s+(\S+)/).flatten
  end

  def capture(*cmd)
    out, status = Open3.capture2e(*cmd)
    raise "#{cmd.join(" ")} failed:\n#{out}" unless status.success?

    out
  end

  # Gem::Requirement is a conjunction, so "3.1 or 3.3" cannot be one range: the range from the
  # oldest to the newest built minor, minus each version of a minor in between that has no
  # library. RubyGems compares Gem.ruby_version, which is RUBY_VERSION for a release and e.g.
  # 3.2.0.preview1 or 3.2.0.dev for the others. Ruby 3.2 passed its end of life in March 2026,
  # so its list of releases should be final; the exclusions run to 3.2.15 to leave a margin past
  # its last release, which costs nothing.
  def required_ruby_version(minors = RUBIES.keys)
    versions = minors.map { |m| Gem::Version.new(m) }.sort
    major, newest = versions.last.segments
    # The gaps below are counted in minors of one major; Ruby 4 will need its own rule.
    raise "minors of more than one major: #{minors.join(", ")}" unless versions.all? { |v| v.segments[0] == major }

    requirement = [">= #{versions.first}", "< #{major}.#{newest + 1}.dev"]
    (versions.first.segments[1]...newest).each do |m|
      next if minors.include?("#{major}.#{m}")

      gap = "#{major}.#{m}"
      requirement += %W[!=\ #{gap}.0.dev !=\ #{gap}.0.preview1 !=\ #{gap}.0.preview2 !=\ #{gap}.0.preview3
                        !=\ #{gap}.0.rc1 !=\ #{gap}.0.rc2]
      requirement += (0..15).map { |patch| "!= #{gap}.#{patch}" }
    end
    requirement
  end

  def gem_file
    require_relative "../lib/wow/fetch/version"
    File.join(ROOT, "pkg", "wow-fetch-#{Wow::Fetch::VERSION}-#{PLATFORM}.gem")
  end

  # The source gem's specification with the platform, the libraries instead of the Rust
  # sources, no extension, and the Rubies it has libraries for. `minors` narrows it (the
  # fallback test publishes a gem that excludes the running Ruby).
  def spec(minors = RUBIES.keys)
    spec = Gem::Specification.load(File.join(ROOT, "wow-fetch.gemspec")).dup
    spec.platform = Gem::Platform.new(PLATFORM)
    spec.extensions = []
    libraries = minors.map { |m| "lib/wow/fetch/#{m}/wow_fetch.so" }
    spec.files = spec.files.grep_v(RUST_SOURCES) + libraries
    spec.required_ruby_version = required_ruby_version(minors)
    spec
  end

  # Copies the gem's files and the libraries into a staging directory and packs it there
  # (Gem::Package.build reads the spec's files relative to the working directory).
  def build_gem(out = gem_file, minors: RUBIES.keys)
    spec = spec(minors)
    stage = File.join(ROOT, "tmp", "native", PLATFORM, "stage")
    FileUtils.rm_rf(stage)
    spec.files.each do |file|
      source = file.end_with?("/wow_fetch.so") ? staged(file.split("/")[-2]) : File.join(ROOT, file)
      raise "#{source} is missing: run rake native:#{PLATFORM} first" unless File.file?(source)

      FileUtils.mkdir_p(File.join(stage, File.dirname(file)))
      FileUtils.cp(source, File.join(stage, file), preserve: true)
    end
    FileUtils.mkdir_p(File.dirname(out))
    Dir.chdir(stage) do
      built = Gem::Package.build(spec)
      FileUtils.mv(built, out)
    end
    $stderr.puts format("native: %<gem>s: %<mb>.2f MB", gem: out.delete_prefix("#{ROOT}/"), mb: File.size(out) / 1e6)
  end
end

desc "Build pkg/wow-fetch-VERSION.gem, and the platform gems of the native:* tasks given before it"
task gem: :build

namespace :native do
  desc "Build the extension for Ruby #{WowFetchNative::RUBIES.keys.join(" and ")} (glibc #{WowFetchNative::GLIBC}); " \
       "`gem` then packs pkg/wow-fetch-VERSION-#{WowFetchNative::PLATFORM}.gem"
  task WowFetchNative::PLATFORM do
    WowFetchNative.build_all
    Rake::Task[:gem].enhance(["native:#{WowFetchNative::PLATFORM}:gem"])
  end

  namespace WowFetchNative::PLATFORM do
    # Internal: run by build_all, inside the root filesystem for its Ruby.
    task :this_ruby do
      expected = ENV.fetch("WOW_FETCH_EXPECT_MINOR", WowFetchNative.minor)
      raise "expected Ruby #{expected}, this is #{RUBY_VERSION}" unless WowFetchNative.minor == expected

      WowFetchNative.build_for_this_ruby
    end

    # Packs the libraries already built (rake native:x86_64-linux gem does both).
    task :gem do
      WowFetchNative.build_gem
    end

    # For bin/test-native's fallback test: the platform gem with only MINOR's library and
    # requirement, written to OUT, so that the other Ruby is one it does not cover.
    task :narrowed, %i[minor out] do |_, args|
      WowFetchNative.build_gem(args.fetch(:out), minors: [args.fetch(:minor)])
    end
  end
end

desc "Build the extension for every platform this machine can (only #{WowFetchNative::PLATFORM})"
task native: "native:#{WowFetchNative::PLATFORM}"
