# frozen_string_literal: true

require "digest"
require "fileutils"
require "json"
require "net/http"
require "open3"
require "tmpdir"
require_relative "mirror_process"

module WowSpec
  # The bundled HTTPS mirror (crates/mirror) as a child process, serving the demo fixture set:
  # 46 real .gem files from 14 KiB to 3.7 MiB, platform gems included. One mirror serves the
  # whole suite; its CA goes into SSL_CERT_FILE, which wow-fetch honours.
  class Mirror
    include WowMirrorProcess

    # One fixture: what the mirror serves for /gems/FILE.
    Fixture = Struct.new(:full_name, :path, :sha256, :size, keyword_init: true)

    def self.instance
      @instance ||= start
    end

    def self.start
      mirror = new(binary: build_binary)
      at_exit { mirror.stop }
      mirror
    end

    # Builds the mirror unless a build exists (WOW_MIRROR_PROFILE=release|dev picks one), or the
    # binary in WOW_MIRROR_BIN (the matrix builds it once, on this machine, for every Ruby).
    def self.build_binary
      return ENV["WOW_MIRROR_BIN"] if ENV["WOW_MIRROR_BIN"]

      profile = ENV.fetch("WOW_MIRROR_PROFILE", "dev")
      path = File.join(ENV.fetch("CARGO_TARGET_DIR", File.join(ROOT, "target")), profile == "dev" ? "debug" : profile,
                       "wow-mirror")
      unless File.executable?(path)
        out, status = Open3.capture2e("cargo", "build", "--profile", profile, "-p", "wow-mirror", chdir: ROOT)
        raise "cargo build -p wow-mirror failed:\n#{out}" unless status.success?
      end
      path
    end

    attr_reader :gems_dir

    def initialize(binary:)
      dir = Dir.mktmpdir("wow-spec-mirror")
      @gems_dir = File.join(dir, "gems")
      out, status = Open3.capture2e(binary, "fixtures", "--out", @gems_dir, "--set", "demo")
      raise "wow-mirror fixtures failed:\n#{out}" unless status.success?

      serve(binary, @gems_dir, dir)
    end

    # host:port as the cache names its directory (`localhost_PORT`).
    def origin_dir
      uri = URI(url)
      "#{uri.host}_#{uri.port}"
    end

    def fixture(full_name)
      fixtures.fetch(full_name)
    end

    def fixtures
      @fixtures ||= Dir[File.join(gems_dir, "*.gem")].to_h do |path|
        full_name = File.basename(path, ".gem")
        [full_name, Fixture.new(full_name: full_name, path: path, sha256: Digest::SHA256.file(path).hexdigest,
                                size: File.size(path))]
      end
    end

    # Downloads of /gems/FILE from its first byte since the last reset (a file fetched in
    # segments counts once).
    def gem_requests(file)
      stats.fetch("path_starts").fetch("/gems/#{file}", 0)
    end
  end

  # Helpers for examples that download from the mirror: `mirror`, a fresh cache dir per example,
  # and `fetch`, Wow::Fetcher.download_all against both. Tag a group with `mirror: true`.
  module MirrorHelpers
    def mirror
      Mirror.instance
    end

    def cache_dir
      @cache_dir ||= File.join(@tmp, "cache")
    end

    def tmp
      @tmp
    end

    def fetch(gems, **options, &block)
      Wow::Fetcher.download_all(gems, source: mirror.url, cache_dir: cache_dir, progress: false, **options, &block)
    end

    # The cache entry of a fixture.
    def cache_entry(full_name)
      File.join(cache_dir, "gems-v2", mirror.origin_dir, "#{full_name}.gem")
    end

    # Temp files anywhere below `dir`: in-flight `.part` files or anything else that is neither a
    # complete .gem nor a lock file.
    def leftovers(dir)
      Dir.glob(File.join(dir, "**", "{*,.*}"), File::FNM_DOTMATCH)
         .select { |path| File.file?(path) }
         .reject { |path| path.end_with?(".lock") || (path.end_with?(".gem") && !File.basename(path).start_with?(".")) }
    end

    # Slows every response for `full_name` to `bytes_per_second`.
    def throttle(full_name, bytes_per_second)
      mirror.add_faults({ path: { exact: "/gems/#{full_name}.gem" }, fault: { bandwidth: bytes_per_second } })
    end
  end
end

RSpec.configure do |config|
  config.include WowSpec::MirrorHelpers, mirror: true

  config.before(:each, mirror: true) do
    ENV["SSL_CERT_FILE"] = mirror.ca_file
    mirror.clear_faults
  end

  config.around(:each, mirror: true) do |example|
    Dir.mktmpdir("wow-spec") do |dir|
      @tmp = dir
      example.run
    end
  end
end
