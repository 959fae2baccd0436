# frozen_string_literal: true

require "open3"
require "tmpdir"
require_relative "mirror_helper"

# Wow::Fetch::RakeTask from a Rakefile in a temporary project, run by the `rake` command.
RSpec.describe "Wow::Fetch::RakeTask (rake)" do
  around do |example|
    Dir.mktmpdir("wow-rake") do |dir|
      @dir = dir
      File.write(File.join(dir, "Rakefile"), <<~RUBY)
        $LOAD_PATH.unshift(#{WowIntegration::LIB.inspect})
        require "wow/fetch/rake_task"

        Wow::Fetch::RakeTask.new(:prefetch) do |t|
          t.lockfile = "Gemfile.lock"
          t.dest = "vendor/cache"
        end
      RUBY
      example.run
    end
  end

  def rake(*args, env: {})
    out, err, status = Open3.capture3({ "WOW_CACHE_DIR" => File.join(@dir, "cache") }.merge(env),
                                      RbConfig.ruby, "-S", "rake", *args, chdir: @dir)
    [out, err, status.exitstatus]
  end

  it "is listed by `rake -T`, without loading the extension" do
    out, err, code = rake("-T")
    expect([err, code]).to eq(["", 0])
    expect(out).to eq("rake prefetch  # Prefetch the gems of Gemfile.lock into vendor/cache, in parallel\n")
  end

  context "against the mirror" do
    before(:all) do
      reason = WowIntegration.missing
      skip(reason) if reason
      @mirror = WowIntegration::Mirror.start
    end

    after(:all) { @mirror&.stop }

    let(:gems) { WowIntegration.gem_files.select { |g| g.platform == "ruby" }.first(12) }

    it "prefetches the lockfile's gems into vendor/cache" do
      File.write(File.join(@dir, "Gemfile.lock"), WowIntegration.lockfile_for(gems, @mirror.url))
      @mirror.reset_stats
      out, err, code = rake("prefetch", env: @mirror.env)
      expect([err, code]).to eq(["", 0])
      expect(out).to match(/\APrepared 12 packages in \d+\.\d\ds\n/)
      expect(out.lines.drop(1)).to eq(gems.map { |g| "✓ #{g.full_name}.gem\n" })
      gems.each do |g|
        expect(Digest::SHA256.file(File.join(@dir, "vendor/cache", "#{g.full_name}.gem")).hexdigest).to eq(g.sha256)
      end
      expect(@mirror.gem_downloads).to eq(gems.to_h { |g| ["#{g.full_name}.gem", 1] })
    end

    it "fails the task and names the package that failed" do
      missing = gems.first.dup.tap { |g| g.name = "nope" }
      File.write(File.join(@dir, "Gemfile.lock"), WowIntegration.lockfile_for([missing, gems[1]], @mirror.url))
      out, err, code = rake("prefetch", env: @mirror.env)
      expect(code).to eq(1)
      expect(out).to include("✗ nope-#{gems.first.version}.gem: ")
      expect(err).to include("wow-fetch: 1 of 2 packages failed")
    end
  end
end
