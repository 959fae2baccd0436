# frozen_string_literal: true

# Writes both RubyGems indexes for a directory of .gem files, so every client finds its own:
#
# * the compact index (`/versions`, `/names`, `/info/NAME`, with `checksum:` on every line), read
#   by Bundler and wow-fetch, in the format https://guides.rubygems.org/rubygems-org-compact-index-api/
#   describes (dependency requirements joined by `&`);
# * the legacy Marshal index (`specs.4.8.gz`, `latest_specs.4.8.gz`, `prerelease_specs.4.8.gz`,
#   `quick/Marshal.4.8/*.gemspec.rz`), read by `gem fetch` and `gem install`, made by RubyGems'
#   own Gem::Indexer (`gem generate_index`).
#
# usage: ruby bench/lib/index.rb SITE_DIR    (SITE_DIR/gems/*.gem must exist)

require "digest"
require "fileutils"
require "rubygems/package"
require "rubygems/indexer"

module WowBench
  module Index
    # Pinned so the index is byte-identical on every run (it only has to parse).
    CREATED_AT = "2024-01-01T00:00:00Z"

    module_function

    def write(site)
      gems = Dir[File.join(site, "gems", "*.gem")].sort
      abort "index: no gems in #{site}/gems" if gems.empty?
      by_name = Hash.new { |h, k| h[k] = [] }
      gems.each do |path|
        spec = Gem::Package.new(path).spec
        by_name[spec.name] << [spec, Digest::SHA256.file(path).hexdigest]
      end

      info_dir = File.join(site, "info")
      FileUtils.rm_rf(info_dir)
      FileUtils.mkdir_p(info_dir)
      versions = ["created_at: #{CREATED_AT}", "---"]
      by_name.keys.sort.each do |name|
        entries = by_name[name].sort_by { |spec, _| [spec.version, spec.platform.to_s] }
        info = "---\n" + entries.map { |spec, sha| info_line(spec, sha) }.join
        File.binwrite(File.join(info_dir, name), info)
        list = entries.map { |spec, _| version_string(spec) }.join(",")
        versions << "#{name} #{list} #{Digest::MD5.hexdigest(info)}"
      end
      File.binwrite(File.join(site, "versions"), versions.join("\n") + "\n")
      File.binwrite(File.join(site, "names"), "---\n" + by_name.keys.sort.join("\n") + "\n")

      legacy(site)
      by_name.size
    end

    def version_string(spec)
      spec.platform.to_s == "ruby" ? spec.version.to_s : "#{spec.version}-#{spec.platform}"
    end

    def info_line(spec, sha)
      deps = spec.runtime_dependencies.sort_by(&:name).map do |dep|
        "#{dep.name}:#{dep.requirement.requirements.map { |op, v| "#{op} #{v}" }.join("&")}"
      end
      meta = ["checksum:#{sha}"]
      ruby = spec.required_ruby_version
      meta << "ruby:#{ruby.requirements.map { |op, v| "#{op} #{v}" }.join("&")}" if ruby && !ruby.none?
      "#{version_string(spec)} #{deps.join(",")}|#{meta.join(",")}\n"
    end

    # Gem::Indexer writes into a temp dir and moves the results into place.
    def legacy(site)
      Gem::DefaultUserInteraction.use_ui(Gem::SilentUI.new) do
        Gem::Indexer.new(site, build_modern: true).generate_index
      end
    end
  end
end

if $PROGRAM_NAME == __FILE__
  site = ARGV.fetch(0) { abort "usage: ruby bench/lib/index.rb SITE_DIR" }
  count = WowBench::Index.write(site)
  puts "indexed #{count} gems in #{site}"
end
