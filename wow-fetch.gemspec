# frozen_string_literal: true

require_relative "lib/wow/fetch/version"

Gem::Specification.new do |spec|
  spec.name = "wow-fetch"
  spec.version = Wow::Fetch::VERSION
  spec.summary = "Fetch many .gem files at once: pooled HTTP/2, streamed, verified, cached"
  spec.description = <<~TEXT.tr("\n", " ").strip
    Downloads the gems of a lockfile (or any list) in parallel over one connection pool, with the
    GVL released: each file is streamed to disk while hashed, verified against its SHA-256, and
    renamed into place, in a cache shared safely by threads and processes.
  TEXT
  spec.authors = ["wow-fetch contributors"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/wow-fetch/wow-fetch"
  spec.required_ruby_version = ">= 3.1"
  spec.metadata["rubygems_mfa_required"] = "true"

  # The extension is built from the Cargo workspace: its root manifest and lockfile, the engine's
  # crates (gem, client, cache, download, resolve and core, the API over them) and the binding
  # (ext/). Test-only crates stay out; ext/extconf.rb trims the
  # workspace to what is shipped.
  spec.files = Dir.glob(
    %w[
      README.md LICENSE* Cargo.toml Cargo.lock .cargo/config.toml
      crates/{gem,client,cache,download,resolve,core}/Cargo.toml
      crates/{gem,client,cache,download,resolve,core}/src/**/*.rs crates/core/tests/**/*.rs
      ext/Cargo.toml ext/extconf.rb ext/src/**/*.rs
      lib/**/*.rb exe/* sig/**/*.rbs plugins.rb
    ],
    base: __dir__
  )
  spec.bindir = "exe"
  spec.executables = spec.files.grep(%r{\Aexe/}).map { |path| File.basename(path) }
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/extconf.rb"]

  # This file runs only where the gem is used from its source: a checkout given to Bundler as a
  # `path:` or `git:` source, the Bundler plugin's `path:` route among them. There the extension
  # is built into lib/ (`rake compile` puts it at lib/wow/fetch/RUBY_MINOR/), not into the
  # extensions directory RubyGems would derive from the checkout's parent. Since 2.5.23 Bundler
  # refuses to load a plugin one of whose load paths is missing, and a spec with extensions
  # lists its extension directory among them. An installed gem's spec comes from the gem's
  # metadata instead, where this directory is not recorded, so installs are unaffected.
  spec.extension_dir = File.join(__dir__, "lib") if spec.respond_to?(:extension_dir=)
end
