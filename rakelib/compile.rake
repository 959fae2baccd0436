# frozen_string_literal: true

require "fileutils"
require "rbconfig"

# `rake compile` builds the extension with cargo and copies it to where lib/wow/fetch.rb finds
# it during development. WOW_FETCH_PROFILE=dev builds faster, unoptimised.
module WowFetchCompile
  ROOT = File.expand_path("..", __dir__)

  module_function

  def profile
    ENV.fetch("WOW_FETCH_PROFILE", "release")
  end

  # cargo names the directory of its `dev` profile `debug`.
  def built
    target = ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target"))
    File.join(target, profile == "dev" ? "debug" : profile, "libwow_fetch.#{RbConfig::CONFIG["SOEXT"]}")
  end

  # lib/wow/fetch/RUBY_MINOR/: one checkout serves several Rubies (the compatibility matrix
  # builds for Ruby 3.1 here and 3.3 in a Debian 13 root filesystem), and a library built for one
  # Ruby must never be loaded by another. lib/wow/fetch.rb looks here first.
  def installed
    File.join(ROOT, "lib", "wow", "fetch", RUBY_VERSION[/\A\d+\.\d+/], "wow_fetch.#{RbConfig::CONFIG["DLEXT"]}")
  end
end

desc "Build the extension into lib/wow/fetch/ (WOW_FETCH_PROFILE=dev for a debug build)"
task :compile do
  sh "cargo", "build", "--profile", WowFetchCompile.profile, "-p", "wow-fetch-ext", chdir: WowFetchCompile::ROOT
  # Copy to a temp name and rename: a Ruby process that has the old library mapped keeps it.
  FileUtils.mkdir_p(File.dirname(WowFetchCompile.installed))
  tmp = "#{WowFetchCompile.installed}.tmp"
  FileUtils.cp(WowFetchCompile.built, tmp)
  File.rename(tmp, WowFetchCompile.installed)
end
