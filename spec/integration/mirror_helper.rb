# frozen_string_literal: true

require "digest"
require "fileutils"
require "json"
require "net/http"
require "open3"
require "openssl"
require "rbconfig"
require "tmpdir"

# What the end-to-end specs of the command line, the Rake task and the Bundler plugin share: the
# local HTTPS mirror (crates/mirror, run as a child process and asked for its /_stats), its demo
# gem set, and whether the compiled extension loads. Specs skip, saying what is missing, when the
# mirror binary or the extension is not built.
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

  def mirror_binary
    candidates = Dir[File.join(ROOT, "target", "{release,debug}", "wow-mirror")].select { |path| File.executable?(path) }
    candidates.max_by { |path| File.mtime(path) }
  end

  # nil when `require "wow/fetch"` works in a child Ruby, else the first line of why not.
  def extension_error
    return @extension_error if defined?(@extension_error)

    _, err, status = Open3.capture3(RbConfig.ruby, "-I", LIB, "-e", 'require "wow/fetch"; Wow::Fetcher.method(:download_all)')
    @extension_error = status.success? ? nil : err.lines.first.to_s.strip
  end

  # Why the end-to-end specs cannot run here, or nil.
  def missing
    return "the wow-mirror binary is not built (cargo build -p wow-mirror)" unless mirror_binary

    "the extension does not load (#{extension_error}); build it first" if extension_error
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
    attr_reader :url, :ca_file, :pid

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
      @dir = Dir.mktmpdir("wow-mirror")
      @ca_file = File.join(@dir, "ca.pem")
      ready = File.join(@dir, "ready")
      log = File.join(@dir, "mirror.log")
      @pid = Process.spawn(WowIntegration.mirror_binary, "serve", "--gems", gems, "--ca-out", @ca_file,
                           "--ready-file", ready, *args, out: log, err: log)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
      until File.exist?(ready) && !File.read(ready).strip.empty?
        if Process.wait(@pid, Process::WNOHANG)
          raise "wow-mirror exited: #{File.read(log)}"
        elsif Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          stop
          raise "wow-mirror did not start in 60s: #{File.read(log)}"
        end
        sleep 0.05
      end
      @url = File.read(ready).strip.chomp("/")
    end

    # Environment for a child that should trust the mirror (OpenSSL, Bundler and wow-fetch all
    # read SSL_CERT_FILE).
    def env
      { "SSL_CERT_FILE" => ca_file }
    end

    def stats
      JSON.parse(request(Net::HTTP::Get.new("/_stats")).body)
    end

    # {"rack-3.0.9.gem" => 1, ...}: GETs of .gem files since start or reset.
    # Downloads of each gem from its first byte (a file fetched in segments counts once).
    def gem_downloads
      stats.fetch("path_starts").filter_map { |path, count| [path.delete_prefix("/gems/"), count] if path.start_with?("/gems/") }.to_h
    end

    def reset_stats
      request(Net::HTTP::Post.new("/_stats/reset"))
    end

    def stop
      return unless @pid

      Process.kill("TERM", @pid)
      Process.wait(@pid)
    rescue Errno::ESRCH, Errno::ECHILD
      nil
    ensure
      @pid = nil
      FileUtils.rm_rf(@dir)
    end

    private

    def request(req)
      uri = URI(url)
      http = Net::HTTP.new(uri.host, uri.port)
      http.use_ssl = true
      http.ca_file = ca_file
      http.verify_mode = OpenSSL::SSL::VERIFY_PEER
      http.start { |h| h.request(req) }
    end
  end
end
