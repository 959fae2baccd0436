# frozen_string_literal: true

require "fileutils"
require_relative "lockfile"
require_relative "report"

module Wow
  module Fetch
    # Prefetches the gems a `bundle install` is about to download into the very files Bundler
    # checks before downloading, so that Bundler then fetches nothing. Used by the plugin
    # (plugins.rb at the gem's root); needs Bundler loaded.
    #
    # Where Bundler looks (Bundler::Source::Rubygems#fetch_gem, 2.3 to 4.0): with
    # `global_gem_cache` set, `~/.bundle/cache/gems/<remote slug>/NAME.gem`, else
    # `<bundle path>/cache/NAME.gem`, where the bundle path follows BUNDLE_PATH, `--path`,
    # deployment (vendor/bundle) or system gems. If that file exists, Bundler installs from it.
    #
    # What it fetches: the lockfile's specs for this platform that the requested groups need,
    # from remote RubyGems sources only, not installed yet and not in vendor/cache; each from the
    # remote Bundler would use (mirrors and credentials applied by Bundler itself), verified
    # against the lockfile's CHECKSUMS when present.
    class BundlerCache
      # One .gem to place: the download_all item and the directory Bundler reads it from.
      Entry = Struct.new(:spec, :item, :dir, keyword_init: true) do
        def file_name
          "#{spec.full_name}.gem"
        end
      end

      # @param fetcher [#download_all, nil] default Wow::Fetcher, loaded on first download
      def initialize(definition = ::Bundler.definition, fetcher: nil)
        @definition = definition
        @fetcher = fetcher
      end

      attr_reader :definition

      # @return [Array<Entry>] what `bundle install` would download, and where it looks first
      def entries
        return [] unless definition.respond_to?(:locked_gems) && definition.locked_gems
        return [] if definition.respond_to?(:unlocking?) && definition.unlocking? # `bundle update`: not the lockfile's gems
        return [] if ::Bundler.respond_to?(:requires_sudo?) && ::Bundler.requires_sudo? # Bundler downloads to a temp dir then

        checksums = lockfile_checksums
        specs_to_install.filter_map do |spec|
          next unless remote_rubygems?(spec) && !installed?(spec)

          remote = ::Bundler::Source::Rubygems::Remote.new(spec.source.remotes.first)
          dir = cache_dir_for(spec.source, remote)
          file_name = "#{spec.full_name}.gem"
          next if File.exist?(File.join(dir, file_name)) || File.exist?(File.join(::Bundler.app_cache.to_s, file_name))

          item = { name: spec.name, version: spec.version.to_s, platform: spec.platform.to_s, url: gem_url(remote, file_name) }
          sha256 = checksums[spec.full_name]
          item[:sha256] = sha256 if sha256
          Entry.new(spec: spec, item: item, dir: dir)
        end
      end

      # Downloads entries into their directories: one download_all per directory, all at once.
      # Events go to the block, if given (on the thread of that directory's call).
      #
      # @return [Report, nil] nil when there was nothing to fetch
      def prefetch(list = entries, **options, &block)
        return nil if list.empty?

        fetcher # load the extension once, before any thread
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        groups = list.group_by(&:dir)
        results = if groups.size == 1
                    download(groups.keys.first, groups.values.first, options, &block)
                  else
                    groups.map { |dir, group| Thread.new { download(dir, group, options, &block) } }.flat_map(&:value)
                  end
        Report.new(results, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
      end

      private

      def fetcher
        @fetcher ||= begin
          require "wow/fetch"
          Wow::Fetcher
        end
      end

      def download(dir, group, options, &block)
        FileUtils.mkdir_p(dir)
        fetcher.download_all(group.map(&:item), **options, dest: dir, raise_on_failure: false, &block)
      end

      # The locked specs Bundler will install: its own choice, SpecSet#for over the requested
      # groups' dependencies for this platform, from the lockfile alone (no network). Its
      # parameters changed: Bundler 2.3 picks the local platform when asked
      # (`match_current_platform`); 2.4 and 2.5 take `check, platforms`; 2.6 and later take the
      # platforms first, and with the default `[nil]` would materialize every variant. Given
      # Bundler.local_platform (ruby under force_ruby_platform), each picks the best variant only.
      # Anything unexpected raises, and the plugin then warns and leaves the install to Bundler:
      # never a guess at what Bundler wants.
      def specs_to_install
        locked = ::Bundler::SpecSet.new(definition.locked_gems.specs)
        dependencies = definition.requested_dependencies
        platforms = [::Bundler.local_platform]
        parameters = ::Bundler::SpecSet.instance_method(:for).parameters.map(&:last)
        specs = if parameters.include?(:match_current_platform)
                  locked.for(dependencies, false, true)
                elsif parameters.include?(:check)
                  locked.for(dependencies, false, platforms)
                else
                  locked.for(dependencies, platforms)
                end
        specs.to_a
      end

      def remote_rubygems?(spec)
        spec.name != "bundler" &&
          spec.source.instance_of?(::Bundler::Source::Rubygems) &&
          !spec.source.remotes.empty?
      end

      # Bundler's own test is Source::Rubygems#installed? over Gem::Specification stubs; the
      # gemspec files it reads are these. A default gem (json, psych, … at the version Ruby ships)
      # counts as installed only for a Bundler that uses it in place: since 2.5, Bundler installs
      # a locked default gem from a .gem it downloads unless the install is --local.
      def installed?(spec)
        dirs = ([::Bundler.bundle_path.to_s] + Gem.path).uniq
        return true if dirs.any? { |dir| File.exist?(File.join(dir, "specifications", "#{spec.full_name}.gemspec")) }

        default_gem?(spec) && !installs_default_gems?
      end

      def default_gem?(spec)
        [Gem.default_specifications_dir, *Gem.path.map { |dir| File.join(dir, "specifications", "default") }].uniq.any? do |dir|
          File.exist?(File.join(dir, "#{spec.full_name}.gemspec"))
        end
      end

      # Source::Rubygems#install fetches a default gem through `cached_built_in_gem(spec, local:)`
      # in the Bundlers that do so; older ones have `cached_built_in_gem(spec)` for `bundle cache`
      # only.
      def installs_default_gems?
        method = ::Bundler::Source::Rubygems.instance_method(:cached_built_in_gem)
        method.parameters.any? { |_, name| name == :local }
      rescue NameError
        false
      end

      # Source::Rubygems#fetch_gem: `download_cache_path(spec) || default_cache_path_for(rubygems_dir)`.
      def cache_dir_for(source, remote)
        spec_with_remote = Struct.new(:remote).new(remote)
        dir = source.send(:download_cache_path, spec_with_remote) if source.respond_to?(:download_cache_path, true)
        dir ||= "#{::Bundler.bundle_path}/cache"
        dir.to_s
      end

      # Bundler::RubyGemsIntegration#download_gem: the (mirrored) remote URI + "gems/NAME.gem".
      def gem_url(remote, file_name)
        uri = ::Bundler.settings.mirror_for(remote.uri)
        (uri + "gems/#{file_name}").to_s
      end

      # Bundler 2.3 ignores CHECKSUMS; read them with our parser (nothing else of it is used). A
      # lockfile we cannot parse means downloads go unverified: the user hears it, at warning
      # level (Bundler itself still verifies what it knows how to).
      def lockfile_checksums
        lockfile = ::Bundler.default_lockfile
        return {} unless lockfile.file?

        Lockfile.read(lockfile.to_s).checksums
      rescue Lockfile::ParseError => e
        ::Bundler.ui.warn("wow-fetch: not verifying downloads against the lockfile's CHECKSUMS: #{e.message}")
        {}
      end
    end
  end
end
