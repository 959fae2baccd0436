# frozen_string_literal: true

require "json"
require "open3"
require "shellwords"
require "tmpdir"
require "wow/fetch/lockfile"
require_relative "mirror_helper"

# `exe/wow-fetch` as a user runs it: in a pipe, on a terminal (under script(1)), against the local
# mirror, with the compiled extension.
RSpec.describe "wow-fetch (command line)" do
  before(:all) do
    reason = WowIntegration.missing
    skip(reason) if reason
    @mirror = WowIntegration::Mirror.start
    @gems = WowIntegration.gem_files
  end

  after(:all) { @mirror&.stop }

  around do |example|
    Dir.mktmpdir("wow-cli") do |dir|
      @dir = dir
      example.run
    end
  end

  def env(extra = {})
    @mirror.env.merge("WOW_CACHE_DIR" => File.join(@dir, "cache"), "NO_COLOR" => nil, "TERM" => "xterm").merge(extra)
  end

  def wow_fetch(*args, env: {})
    out, err, status = Open3.capture3(env(env), RbConfig.ruby, WowIntegration::EXE, *args, chdir: @dir)
    [out, err, status.exitstatus]
  end

  # Runs the command on a pseudo-terminal (script -qec CMD /dev/null) and returns what the
  # terminal received, with the exit status.
  def on_terminal(*args, env: {})
    command = [RbConfig.ruby, WowIntegration::EXE, *args].shelljoin
    out, status = Open3.capture2e(env(env), "script", "-qec", command, "/dev/null", chdir: @dir)
    [out, status.exitstatus]
  end

  def gem(full_name)
    @gems.find { |g| g.full_name == full_name } || raise("no fixture #{full_name}")
  end

  let(:pair) { [gem("rack-3.0.9"), @gems.find { |g| g.platform != "ruby" }] }

  it "downloads GEM-VERSION arguments into --dest, prints the summary and exits 0" do
    out, err, code = wow_fetch(*pair.map(&:full_name), "--source", @mirror.url, "--dest", "vendor/cache")
    expect([err, code]).to eq(["", 0])
    expect(out).to match(/\APrepared 2 packages in \d+\.\d\ds\n/)
    expect(out.lines.drop(1)).to eq(pair.map { |g| "✓ #{g.full_name}.gem\n" })
    pair.each do |g|
      expect(Digest::SHA256.file(File.join(@dir, "vendor/cache", "#{g.full_name}.gem")).hexdigest).to eq(g.sha256)
    end
  end

  it "prints nothing else in a pipe: no progress, no escape codes" do
    out, err, = wow_fetch(pair.first.full_name, "--source", @mirror.url)
    expect(out + err).not_to include("\e")
    expect(err).to eq("")
  end

  it "explains each failure and exits 1" do
    out, err, code = wow_fetch("rack-3.0.9", "nope-9.9.9", "--source", @mirror.url)
    expect(code).to eq(1)
    expect(out.lines.first).to match(/\APrepared 1 package in \d+\.\d\ds\n/)
    expect(out.lines[1]).to eq("✓ rack-3.0.9.gem\n")
    expect(out.lines[2]).to start_with("✗ nope-9.9.9.gem: ")
    expect(out.lines[2]).to include("404")
    expect(err).to eq("wow-fetch: 1 of 2 packages failed\n")
  end

  it "prints one JSON object per package with --json" do
    out, _err, code = wow_fetch("--json", "rack-3.0.9", "nope-9.9.9", "--source", @mirror.url)
    expect(code).to eq(1)
    objects = out.lines.map { |line| JSON.parse(line) }
    expect(objects.map { |o| [o["full_name"], o["ok"]] }).to eq([["rack-3.0.9", true], ["nope-9.9.9", false]])
    expect(objects.first).to include("sha256" => gem("rack-3.0.9").sha256, "status" => "downloaded",
                                     "bytes" => File.size(gem("rack-3.0.9").path))
    expect(objects.last["error"]).to include("404")
  end

  it "says a second run found everything in the cache" do
    wow_fetch("rack-3.0.9", "--source", @mirror.url)
    out, _err, code = wow_fetch("--json", "rack-3.0.9", "--source", @mirror.url)
    expect(code).to eq(0)
    expect(JSON.parse(out)["status"]).to eq("cached")
  end

  it "fetches every gem of a lockfile, verified against its CHECKSUMS" do
    File.write(File.join(@dir, "Gemfile.lock"), WowIntegration.lockfile_for(@gems, @mirror.url))
    @mirror.reset_stats
    out, err, code = wow_fetch("--lockfile", "Gemfile.lock", "--dest", "vendor/cache")
    expect([err, code]).to eq(["", 0])
    chosen = Wow::Fetch::Lockfile.read(File.join(@dir, "Gemfile.lock")).items
    expect(out.lines.first).to match(/\APrepared #{chosen.size} packages in/)
    expect(chosen.size).to be >= 30
    expect(@mirror.gem_downloads.size).to eq(chosen.size)
    expect(@mirror.gem_downloads.values).to all(eq(1))
    expect(Dir[File.join(@dir, "vendor/cache/*.gem")].size).to eq(chosen.size)
  end

  it "fails an item whose checksum does not match the lockfile, and keeps no bad file" do
    rack = gem("rack-3.0.9")
    text = WowIntegration.lockfile_for([rack], @mirror.url).sub(rack.sha256, "0" * 64)
    File.write(File.join(@dir, "Gemfile.lock"), text)
    out, _err, code = wow_fetch("--lockfile", "Gemfile.lock", "--dest", "vendor/cache")
    expect(code).to eq(1)
    expect(out).to match(/^✗ rack-3\.0\.9\.gem: .*(checksum|sha256|SHA-256)/i)
    expect(Dir[File.join(@dir, "vendor/cache/*")]).to be_empty
  end

  it "exits 2 for usage errors without touching the network" do
    @mirror.reset_stats
    expect(wow_fetch("--frobnicate").last).to eq(2)
    expect(wow_fetch.last).to eq(2)
    expect(wow_fetch("--concurrency", "zero", "rack-3.0.9").last).to eq(2)
    _out, err, code = wow_fetch("rack:<<3")
    expect(code).to eq(2)
    expect(err).to start_with("wow-fetch: gems[0]: ")
    expect(@mirror.stats["requests"]).to eq(0)
  end

  it "resolves a bare name with its runtime dependencies through the compact index" do
    @mirror.reset_stats
    out, err, code = wow_fetch("rails", "--source", @mirror.url, "--dest", "vendor/cache")
    expect(code).to eq(0), err
    count = out[/\APrepared (\d+) packages in \d+\.\d\ds$/, 1].to_i
    expect(count).to be > 20
    expect(out).to match(/^✓ rails-\d[\d.]*\.gem$/).and match(/^✓ activesupport-/)
    expect(Dir[File.join(@dir, "vendor/cache/*.gem")].size).to eq(count)
    gem_requests = @mirror.stats["path_starts"].select { |path, _| path.start_with?("/gems/") }
    expect(gem_requests.values).to all(eq(1))
  end

  it "exits 1 naming a gem the index does not have" do
    _out, err, code = wow_fetch("no-such-gem-here", "--source", @mirror.url)
    expect(code).to eq(1)
    expect(err).to eq("wow-fetch: could not find gem 'no-such-gem-here' in #{@mirror.url}\n")
  end

  it "prints --version and --help" do
    out, _err, code = wow_fetch("--version")
    expect(code).to eq(0)
    expect(out).to match(/\Awow-fetch \d+\.\d+\.\d+\S*\n\z/)
    out, _err, code = wow_fetch("--help")
    expect(code).to eq(0)
    expect(out).to include("Usage: wow-fetch [options] GEM-VERSION...")
  end

  describe "on a terminal" do
    it "shows progress, then the summary with colored marks" do
      screen, code = on_terminal(*pair.map(&:full_name), "--source", @mirror.url)
      expect(code).to eq(0)
      expect(screen).to include("\e[1mPrepared 2 packages in")
      # The live view's ✓ line per gem stays; the report does not list them again.
      pair.each { |g| expect(screen.scan("✓ #{g.full_name}.gem").size).to eq(1), screen }
    end

    it "uses no color with NO_COLOR" do
      screen, code = on_terminal(*pair.map(&:full_name), "--source", @mirror.url, env: { "NO_COLOR" => "1" })
      expect(code).to eq(0)
      pair.each { |g| expect(screen).to include("✓ #{g.full_name}.gem") }
      expect(screen).not_to include("\e[32m")
    end

    it "prints no progress with --no-progress" do
      screen, code = on_terminal(pair.first.full_name, "--source", @mirror.url, "--no-progress", env: { "NO_COLOR" => "1" })
      expect(code).to eq(0)
      expect(screen.gsub("\r\n", "\n")).to match(/\APrepared 1 package in \d+\.\d\ds\n✓ #{Regexp.escape(pair.first.full_name)}\.gem\n\z/)
    end
  end
end
