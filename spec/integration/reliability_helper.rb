# frozen_string_literal: true

require "digest"
require "fileutils"
require "json"
require "open3"
require "rbconfig"
require "socket"
require "stringio"
require "tmpdir"
require_relative "mirror_helper"

# What spec/integration/reliability_spec.rb (issue 8, the Ruby half) shares: a mirror serving
# many small generated gems, a sandbox whose every file must lie in dest or the cache, a seeded
# generator of hostile names, and the process's memory and descriptor counts.
module WowReliability
  SECRET = "s3cret"

  module_function

  # A `wow-mirror fixtures --set small:COUNT` directory, written once per process: gems of 20 to
  # 48 KiB named small-000-1.0.0 and so on. Returns {full_name => sha256}, and the directory.
  def small_gems(count)
    @small_gems ||= {}
    @small_gems[count] ||= begin
      WowSpec::Mirror.build_binary # builds wow-mirror unless a build exists
      dir = Dir.mktmpdir("wow-reliability-gems")
      at_exit { FileUtils.rm_rf(dir) }
      out, status = Open3.capture2e(WowIntegration.mirror_binary, "fixtures", "--out", dir, "--set", "small:#{count}")
      raise "wow-mirror fixtures failed: #{out}" unless status.success?

      sums = Dir[File.join(dir, "*.gem")].sort.to_h { |path| [File.basename(path, ".gem"), Digest::SHA256.file(path).hexdigest] }
      [sums, dir]
    end
  end

  # VmRSS of this process, in bytes.
  def rss
    File.read("/proc/self/status")[/^VmRSS:\s+(\d+) kB/, 1].to_i * 1024
  end

  def open_fds
    Dir.children("/proc/self/fd").size
  end

  # Waits for every child, killing those still running after `seconds`; their statuses.
  def wait_all(pids, seconds:)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    statuses = {}
    until statuses.size == pids.size
      pids.each do |pid|
        next if statuses.key?(pid)

        _, status = Process.wait2(pid, Process::WNOHANG)
        statuses[pid] = status if status
      end
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        (pids - statuses.keys).each do |pid|
          Process.kill("KILL", pid)
        rescue Errno::ESRCH
          nil
        end
      end
      sleep 0.01
    end
    pids.map { |pid| statuses.fetch(pid) }
  end

  # Every file (or symlink) below `root` that is not inside one of `allowed`: a file a download
  # put where it must not.
  def stray_files(root, allowed)
    allowed = allowed.map { |dir| File.join(File.expand_path(dir), "") }
    Dir.glob("**/*", File::FNM_DOTMATCH, base: root)
       .map { |rel| File.join(root, rel) }
       .select { |path| File.file?(path) || File.symlink?(path) }
       .reject { |path| allowed.any? { |dir| path.start_with?(dir) } }
  end

  # Seeded hostile names, versions and platforms: traversal, separators, NUL, control
  # characters, look-alike slashes, URL metacharacters, invalid encodings, lengths up to 10 KB.
  class Generator
    PIECES = [
      "a", "rack", "x_y", "Z9", "-", ".", "_", "..", "...", "/", "\\", "\0", "../", "..\\", "%2e%2e", "%2f",
      "%00", "~", "$HOME", "*", "?", "#", ":", ";", "|", "<", ">", "\"", "'", "`", " ", "\t", "\n", "\r",
      "\u00e9", "\u{1f48e}", "\u202e", "\u200d", "\uff0f", "\u2215", "\u2024\u2024", "\ufeff", "\u0000",
      "C:", "CON", "nul", "/etc/passwd", "gems-v1", "..%2f..%2f"
    ].freeze
    SAFE = %w[a rack x_y Z9 - . _ 0 1 nokogiri].freeze
    DIGITS = %w[0 1 2 9 10 1.0 0.0.1 3.0.9 1.a 1- 1.. 1/ 1\\ 1.0.pre].freeze

    def initialize(seed)
      @random = Random.new(seed)
    end

    def name
      text(PIECES)
    end

    # Usually starts with a digit so that more of them get past the first check.
    def version
      @random.rand < 0.7 ? DIGITS.sample(random: @random) + text(PIECES, max: 3) : text(PIECES)
    end

    def platform
      @random.rand < 0.5 ? "ruby" : text(PIECES)
    end

    # An item in one of the accepted shapes: a Hash (Symbol or String keys) or a String; now
    # and then a field is invalid UTF-8 or in another encoding.
    def item
      name = self.name
      version = self.version
      platform = self.platform
      case @random.rand(4)
      when 0 then { name: recode(name), version: recode(version), platform: recode(platform) }
      when 1 then { "name" => recode(name), "version" => recode(version) }
      when 2 then recode([name, version, platform].join("-"))
      else { name: recode(name), version: recode(version), sha256: sha256 }
      end
    end

    private

    def text(pieces, max: 6)
      length = case @random.rand(100)
               when 0, 1 then 10_240
               when 2..6 then @random.rand(40..120) # around NAME_MAX (255 bytes)
               else @random.rand(1..max)
               end
      return pieces.sample(random: @random) * (length / 2) if length > 1000

      # Mostly harmless pieces, so that many items get past validation to the network and disk.
      Array.new(length) { (@random.rand < 0.75 ? SAFE : pieces).sample(random: @random) }.join
    end

    # Now and then invalid UTF-8, or valid text in another encoding.
    def recode(string)
      case @random.rand(20)
      when 0 then string.b + "\xff".b
      when 1 then string.encode("UTF-16LE")
      else string
      end
    end

    def sha256
      case @random.rand(4)
      when 0 then "a" * @random.rand(0..70)
      when 1 then "g" * 64
      when 2 then nil
      else Digest::SHA256.hexdigest(@random.bytes(8))
      end
    end
  end
end
