# frozen_string_literal: true

# The wow-fetch Bundler plugin: while `bundle install` resolves, download every gem it will
# install in parallel (verified against the lockfile's CHECKSUMS when present) into the cache
# Bundler reads, so Bundler itself downloads nothing. Add it to a Gemfile with
#
#   plugin "wow-fetch", path: "/path/to/wow-fetch"
#
# Bundler loads this file when it registers the plugin and again before an install. The work is
# in Wow::Fetch::BundlerPlugin (lib/wow/fetch/bundler_plugin.rb); nothing here may raise, so a
# broken or unbuilt wow-fetch can never break `bundle install`.

# Runs a hook body; any failure becomes a warning, and Bundler carries on as without us. (A
# lambda rather than a constant: nothing of ours is left in the namespace of Bundler's process.)
wow_fetch_guard = lambda do |&body|
  lib = File.expand_path("lib", __dir__)
  $LOAD_PATH.unshift(lib) unless $LOAD_PATH.include?(lib)
  require "wow/fetch/bundler_plugin"
  body.call
rescue StandardError, ScriptError => e
  Bundler.ui.warn "wow-fetch: prefetch skipped (#{e.class}: #{e.message}); Bundler downloads the gems itself"
end

Bundler::Plugin::API.hook(Bundler::Plugin::Events::GEM_BEFORE_INSTALL_ALL) do |_dependencies|
  wow_fetch_guard.call { Wow::Fetch::BundlerPlugin.before_install_all }
end

Bundler::Plugin::API.hook(Bundler::Plugin::Events::GEM_BEFORE_INSTALL) do |spec_installation|
  wow_fetch_guard.call { Wow::Fetch::BundlerPlugin.before_install(spec_installation) }
end

Bundler::Plugin::API.hook(Bundler::Plugin::Events::GEM_AFTER_INSTALL_ALL) do |_dependencies|
  wow_fetch_guard.call { Wow::Fetch::BundlerPlugin.after_install_all }
end
