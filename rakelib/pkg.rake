# frozen_string_literal: true

require "fileutils"
require "rbconfig"
require "tmpdir"

# The gem as users get it: `gem build`, `gem install` into a throwaway GEM_HOME (which compiles
# the extension through ext/extconf.rb), then `require "wow/fetch"` from another directory.
module WowFetchPkg
  extend FileUtils # rake's `sh`

  ROOT = File.expand_path("..", __dir__)

  module_function

  def gem_file
    require_relative "../lib/wow/fetch/version"
    File.join(ROOT, "pkg", "wow-fetch-#{Wow::Fetch::VERSION}.gem")
  end

  # A GEM_HOME holding only this gem; Ruby's own gems (rspec, rake) stay reachable via GEM_PATH.
  # cargo reuses the workspace's release build tree, so only the gem's own crates recompile.
  def env(home)
    {
      "GEM_HOME" => home,
      "GEM_PATH" => [home, *Gem.path].join(File::PATH_SEPARATOR),
      "CARGO_TARGET_DIR" => ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target")),
      "RUBYLIB" => nil,
      "RUBYOPT" => nil
    }
  end

  # Installs the built gem into a fresh GEM_HOME, checks that it loads from another directory,
  # and yields that GEM_HOME.
  def with_installed_gem
    Dir.mktmpdir("wow-fetch-home") do |home|
      sh(env(home), "gem", "install", "--local", "--no-document", "--install-dir", home, gem_file)
      Dir.mktmpdir("wow-fetch-elsewhere") do |elsewhere|
        sh(env(home), RbConfig.ruby, "-e", 'require "wow/fetch"; p Wow::Fetch::VERSION', chdir: elsewhere)
      end
      yield home
    end
  end
end

desc "Build pkg/wow-fetch-VERSION.gem"
task :build do
  FileUtils.mkdir_p(File.dirname(WowFetchPkg.gem_file))
  sh "gem", "build", "wow-fetch.gemspec", "--output", WowFetchPkg.gem_file, chdir: WowFetchPkg::ROOT
end

desc "Build the gem and install it (compiling the extension)"
task install: :build do
  sh "gem", "install", "--local", "--no-document", WowFetchPkg.gem_file
end

namespace :pkg do
  desc "Install the built gem into a temp GEM_HOME and require it from another directory"
  task smoke: :build do
    WowFetchPkg.with_installed_gem { nil }
  end
end

namespace :spec do
  desc "pkg:smoke, then RSpec against that installed gem (no -I lib)"
  task installed: :build do
    WowFetchPkg.with_installed_gem do |home|
      sh WowFetchPkg.env(home).merge("WOW_FETCH_SPEC_INSTALLED" => "1"), "rspec", chdir: WowFetchPkg::ROOT
    end
  end
end
