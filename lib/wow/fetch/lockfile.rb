# frozen_string_literal: true

require "rubygems"
require_relative "bundler_settings"
require_relative "gemfile_groups"

module Wow
  module Fetch
    # A Gemfile.lock read into the items `Wow::Fetcher.download_all` takes.
    #
    #   lock = Wow::Fetch::Lockfile.read("Gemfile.lock")
    #   Wow::Fetcher.download_all(lock.items, dest: "vendor/cache")
    #   lock.notes  # => ["skipped my_engine 0.1.0: PATH source ../my_engine is not downloaded"]
    #
    # Every spec of every GEM section is fetched from its section's `remote:` (with Bundler's
    # mirrors and credentials applied); where a gem is locked for several platforms only the variant
    # Bundler would install here is kept; a CHECKSUMS section (Bundler 2.5+, which Bundler 2.3
    # ignores) supplies the expected SHA-256. PATH, GIT and plugin sources are not downloads: their
    # specs are listed in #skipped and explained in #notes.
    #
    # The parser is our own so that the command line does not need Bundler; it reads what
    # Bundler::LockfileParser reads, but rejects what Bundler would silently skip, naming the line.
    class Lockfile
      # The lockfile cannot be read; the message names the file and line.
      class ParseError < StandardError
        attr_reader :path, :line_number

        def initialize(message, path: nil, line_number: nil)
          @path = path
          @line_number = line_number
          location = [path || "Gemfile.lock", line_number].compact.join(":")
          super("#{location}: #{message}")
        end
      end

      # One `name (version[-platform])` line of a source section.
      Spec = Struct.new(:name, :version, :platform, :type, :remotes, :options, :dependencies, :line_number,
                        keyword_init: true) do
        # As RubyGems names the .gem file: "name-version", plus "-platform" unless ruby.
        def full_name
          platform == "ruby" ? "#{name}-#{version}" : "#{name}-#{version}-#{platform}"
        end

        def gem_platform
          Gem::Platform.new(platform)
        end

        # The remote Bundler uses for a GEM section with several: the last one listed.
        def remote
          remotes.last
        end
      end

      SOURCE_TYPES = { "GEM" => :gem, "GIT" => :git, "PATH" => :path, "PLUGIN SOURCE" => :plugin }.freeze

      # A gem name as RubyGems accepts it (Gem::Specification#validate_name), loosely.
      NAME = /[A-Za-z0-9][A-Za-z0-9._-]*|_[A-Za-z0-9._-]+/.freeze
      SPEC_LINE = /\A {4}(?<name>#{NAME}) \((?<version>[^-\s()]+)(?:-(?<platform>[^\s()]+))?\)\z/.freeze
      DEPENDENCY_LINE = /\A {6}(?<name>#{NAME})(?: \((?<requirement>[^()]+)\))?!?\z/.freeze
      OPTION_LINE = /\A {2}(?<key>[a-z_]+): ?(?<value>.*)\z/i.freeze
      CHECKSUM_LINE = /\A {2}(?<name>#{NAME}) \((?<version>[^-\s()]+)(?:-(?<platform>[^\s()]+))?\)(?: (?<checksums>\S+))?\z/.freeze
      DIGEST = /\A(?<algorithm>[a-z0-9]+)=(?<digest>\S+)\z/.freeze
      CONFLICT_MARKER = /\A(<{7}|={7}|>{7}|\|{7})(\s|\z)/.freeze
      SECTION = /\A[A-Z][A-Z0-9 ]*\z/.freeze
      private_constant :NAME, :SPEC_LINE, :DEPENDENCY_LINE, :OPTION_LINE, :CHECKSUM_LINE, :DIGEST,
                       :CONFLICT_MARKER, :SECTION

      attr_reader :path, :specs, :checksums, :platforms, :dependencies, :bundled_with, :ruby_version

      # @param path [String] a Gemfile.lock
      # @param options see .parse
      def self.read(path, **options)
        text = File.read(path, mode: "r:bom|utf-8")
        parse(text, path: path, **options)
      rescue Errno::ENOENT, Errno::EISDIR, Errno::EACCES => e
        raise ParseError.new("cannot read the lockfile (#{e.message.sub(/ @ .*/, "")})", path: path)
      end

      # @param text [String] the lockfile's contents
      # @param path [String, nil] where it came from (error messages; its directory's .bundle/config)
      # @param platform [Gem::Platform, String, nil] the machine to install on (default this one);
      #   with `force_ruby_platform` set, variants are chosen for ruby as Bundler.local_platform does
      # @param settings [BundlerSettings, nil] mirrors and credentials; default read from the
      #   environment and the Bundler config files around `path`
      def self.parse(text, path: nil, platform: nil, settings: nil)
        new(text, path: path, platform: platform, settings: settings)
      end

      def initialize(text, path: nil, platform: nil, settings: nil)
        @path = path
        @settings = settings
        @host_platform = platform ? Gem::Platform.new(platform) : Gem::Platform.local
        @specs = []
        @checksums = {}
        @platforms = []
        @dependencies = []
        @bundled_with = nil
        @ruby_version = nil
        parse(text)
      end

      # Specs of GEM sections (every platform variant), in lockfile order.
      def gem_specs
        specs.select { |spec| spec.type == :gem }
      end

      # Specs that are not downloads: those of PATH, GIT and PLUGIN SOURCE sections, and GEM
      # specs that have no remote or no variant for this platform.
      def skipped
        selection
        @skipped
      end

      # One line per skipped spec, saying why (for a `--verbose`-free user to read).
      def notes
        selection
        @notes
      end

      # Problems that change what is fetched or how (an unreadable Bundler config): shown even
      # with --quiet.
      def warnings
        settings.warnings
      end

      # The download items: one Hash per gem to fetch, as `Wow::Fetcher.download_all` takes them
      # (`name:`, `version:`, `platform:`, `source:`, and `sha256:` when the CHECKSUMS section has it).
      def items
        selection.map do |spec|
          item = { name: spec.name, version: spec.version, platform: spec.platform, source: source_for(spec) }
          sha256 = checksums[spec.full_name]
          item[:sha256] = sha256 if sha256
          item
        end
      end

      # Bundler's `ssl_ca_cert` setting: a CA file (or directory) its downloads trust, or nil.
      def ca_file
        settings["ssl_ca_cert"]
      end

      # The platform variants are chosen for: Bundler.local_platform.
      def platform
        @platform ||= settings.force_ruby_platform? ? Gem::Platform::RUBY : @host_platform
      end

      def settings
        @settings ||= BundlerSettings.new(root: path && File.dirname(File.expand_path(path)))
      end

      private

      # The GEM specs to download: per gem, the platform variant Bundler would pick for #platform,
      # if an install here needs it.
      def selection
        @selection ||= begin
          @skipped = []
          @notes = []
          specs.each do |spec|
            next unless spec.type != :gem || spec.remotes.empty?

            @skipped << spec
            @notes << skip_note(spec)
          end
          chosen = []
          unmatched = []
          # Per name and version: Bundler keys by name alone, but a hand-edited lockfile with two
          # versions of a gem should get both rather than one at random.
          gem_specs.reject { |spec| spec.remotes.empty? }.group_by { |spec| [spec.name, spec.version] }.each_value do |variants|
            best = best_platform_match(variants)
            best ? chosen << best : unmatched << variants
          end
          needed = needed_names(chosen)
          unmatched.each do |variants|
            next if needed && !needed.include?(variants.first.name)

            @skipped.concat(variants)
            @notes << "skipped #{variants.first.name} #{variants.first.version}: locked only for " \
                      "#{variants.map(&:platform).join(", ")}, not for #{platform}"
          end
          chosen.select! { |spec| needed.include?(spec.name) } if needed
          chosen.sort_by(&:line_number)
        end
      end

      # The gem names an install here needs, walked as Bundler::SpecSet#for walks them: from the
      # DEPENDENCIES section through each gem's dependencies, following only the platform variant
      # chosen for this machine. So mini_portile2, which only nokogiri's ruby variant needs, is
      # left out on x86_64-linux. nil (everything) when the lockfile has no DEPENDENCIES.
      def needed_names(chosen)
        return nil if dependencies.empty?

        variants = Hash.new { |hash, name| hash[name] = [] }
        chosen.each { |spec| variants[spec.name] << spec }
        specs.each { |spec| variants[spec.name] << spec unless spec.type == :gem }
        queue = dependencies.map { |line| line[/\A[^\s!]+/] } - excluded_by_groups
        needed = {}
        until queue.empty?
          name = queue.shift
          next if needed.key?(name) || name == "bundler"

          needed[name] = true
          variants[name].each { |spec| queue.concat(spec.dependencies) }
        end
        needed
      end

      # The DEPENDENCIES that the Gemfile's groups and Bundler's group settings leave out.
      def excluded_by_groups
        return [] unless path

        GemfileGroups.excluded(GemfileGroups.gemfile_for(File.expand_path(path)), settings)
      end

      def skip_note(spec)
        where = spec.options["remote"] || spec.options["path"]
        case spec.type
        when :path then "skipped #{spec.name} #{spec.version}: PATH source #{where} is not downloaded"
        when :git then "skipped #{spec.name} #{spec.version}: GIT source #{redact(where)} is not downloaded"
        when :plugin then "skipped #{spec.name} #{spec.version}: plugin source #{redact(where)} is not downloaded"
        else "skipped #{spec.name} #{spec.version}: its GEM section has no remote"
        end
      end

      # Bundler::SpecSet#spec_for_dependency with match_current_platform: the variants RubyGems
      # may install on this machine (Gem::Platform.match_gem?, which force_ruby_platform does not
      # change), then an exact match for Bundler.local_platform, else the most specific one
      # (Bundler::GemHelpers.select_best_platform_match), else none.
      def best_platform_match(variants)
        local = platform
        installable = variants.select { |spec| installable_here?(spec.gem_platform, @host_platform) }
        matching = installable.select { |spec| platforms_match?(spec.gem_platform, local) }
        exact = matching.find { |spec| spec.gem_platform == local }
        exact || matching.min_by.with_index { |spec, index| [specificity(spec.gem_platform, local), index] }
      end

      # Gem::Platform.match_gem? for the platforms [ruby, local].
      def installable_here?(gem_platform, local)
        [Gem::Platform::RUBY, local].uniq.any? do |candidate|
          candidate == gem_platform || (candidate != Gem::Platform::RUBY && candidate =~ gem_platform)
        end
      end

      # Bundler::MatchPlatform.platforms_match?
      def platforms_match?(gem_platform, local)
        return true if gem_platform == Gem::Platform::RUBY || gem_platform == local
        return true if generic(gem_platform) == local
        return true if gem_platform.is_a?(Gem::Platform) && gem_platform === local

        false
      end

      # Bundler::GemHelpers.generic: the platforms RubyGems groups together.
      GENERICS = [
        [Gem::Platform.new("java"), Gem::Platform.new("java")],
        [Gem::Platform.new("mswin32"), Gem::Platform.new("mswin32")],
        [Gem::Platform.new("mswin64"), Gem::Platform.new("mswin64")],
        [Gem::Platform.new("universal-mingw32"), Gem::Platform.new("universal-mingw32")],
        [Gem::Platform.new("x64-mingw32"), Gem::Platform.new("x64-mingw32")],
        [Gem::Platform.new("x86_64-mingw32"), Gem::Platform.new("x64-mingw32")],
        [Gem::Platform.new("mingw32"), Gem::Platform.new("x86-mingw32")],
      ].freeze
      private_constant :GENERICS

      def generic(gem_platform)
        return Gem::Platform::RUBY unless gem_platform.is_a?(Gem::Platform)

        found = GENERICS.find { |match, _| gem_platform.os == match.os && (!match.cpu || gem_platform.cpu == match.cpu) }
        found ? found.last : Gem::Platform::RUBY
      end

      # Bundler::GemHelpers::PlatformMatch.specificity_score: lower is closer.
      def specificity(gem_platform, local)
        return -1 if gem_platform == local
        return 1_000_000 if gem_platform == Gem::Platform::RUBY || local == Gem::Platform::RUBY

        os = gem_platform.os == local.os ? 0 : 1
        cpu = if gem_platform.cpu == local.cpu then 0
              elsif gem_platform.cpu == "arm" && local.cpu.to_s.start_with?("arm") then 0
              elsif gem_platform.cpu.nil? || gem_platform.cpu == "universal" then 1
              else 2
              end
        version = if gem_platform.version == local.version then 0
                  elsif gem_platform.version.nil? then 1
                  else 2
                  end
        os + (cpu * 10) + (version * 100)
      end

      def source_for(spec)
        settings.remote(spec.remote).chomp("/")
      end

      def redact(uri)
        uri.to_s.sub(%r{//[^/@]*@}, "//")
      end

      def parse(text)
        text = text.to_s
        raise ParseError.new("the lockfile is empty", path: path, line_number: 1) if text.strip.empty?

        unless text.valid_encoding?
          bad = text.each_line.with_index(1).find { |line, _| !line.valid_encoding? }
          raise ParseError.new("invalid #{text.encoding} byte sequence", path: path, line_number: bad&.last)
        end

        section = nil
        source = nil
        saw_source = false
        text.each_line.with_index(1) do |raw, number|
          line = raw.chomp.delete_suffix("\r")
          if line.match?(CONFLICT_MARKER)
            fail_at(number, "merge conflict marker; resolve the conflict (or check out a clean Gemfile.lock) first")
          end
          next if line.strip.empty?

          if line.match?(/\A\S/)
            fail_at(number, "unexpected #{line.inspect}: not a lockfile section header") unless line.match?(SECTION)
            section = line
            source = nil
            if SOURCE_TYPES.key?(section)
              saw_source = true
              source = { type: SOURCE_TYPES.fetch(section), options: {}, remotes: [], in_specs: false, specs: 0 }
            end
            next
          end
          fail_at(number, "tab in indentation") if line.match?(/\A\s*\t/)
          fail_at(number, "indented line #{line.strip.inspect} before any section") unless section

          case section
          when *SOURCE_TYPES.keys then parse_source_line(source, line, number)
          when "PLATFORMS" then parse_platform_line(line, number)
          when "DEPENDENCIES" then parse_dependency_line(line, number)
          when "CHECKSUMS" then parse_checksum_line(line, number)
          when "RUBY VERSION" then @ruby_version = line.strip
          when "BUNDLED WITH" then @bundled_with = line.strip
          end
          # Sections from newer Bundlers that we do not know are skipped, as Bundler does.
        end
        fail_at(1, "no GEM, GIT or PATH section; is this a Gemfile.lock?") unless saw_source
      end

      def parse_source_line(source, line, number)
        if line == "  specs:"
          source[:in_specs] = true
        elsif !source[:in_specs] && (m = line.match(OPTION_LINE))
          source[:options][m[:key]] = m[:value]
          source[:remotes] << m[:value] if m[:key] == "remote"
        elsif source[:in_specs] && (m = line.match(SPEC_LINE))
          unless Gem::Version.correct?(m[:version])
            fail_at(number, "#{m[:version].inspect} is not a valid version for #{m[:name]}")
          end
          @specs << Spec.new(name: m[:name], version: m[:version], platform: m[:platform] || "ruby",
                             type: source[:type], remotes: source[:remotes].dup, options: source[:options].dup,
                             dependencies: [], line_number: number)
          source[:specs] += 1
        elsif source[:in_specs] && (m = line.match(DEPENDENCY_LINE))
          fail_at(number, "dependency #{line.strip.inspect} before any spec") if source[:specs].zero?
          @specs.last.dependencies << m[:name]
        elsif line.start_with?("    ") && !line.start_with?("     ")
          what = source[:in_specs] ? "`name (version)` or `name (version-platform)`" : "`  specs:` first"
          fail_at(number, "cannot parse spec #{line.strip.inspect}: expected #{what}")
        else
          fail_at(number, "cannot parse #{line.strip.inspect} in the #{source[:type].to_s.upcase} section")
        end
      end

      def parse_platform_line(line, number)
        fail_at(number, "cannot parse platform #{line.strip.inspect}") unless line.match?(/\A {2}\S+\z/)
        @platforms << line.strip
      end

      def parse_dependency_line(line, number)
        unless line.match?(/\A {2}#{NAME}(?: \([^()]+\))?!?\z/o)
          fail_at(number, "cannot parse dependency #{line.strip.inspect}")
        end
        @dependencies << line.strip
      end

      def parse_checksum_line(line, number)
        m = line.match(CHECKSUM_LINE)
        fail_at(number, "cannot parse checksum #{line.strip.inspect}: expected `name (version) sha256=HEX`") unless m

        full_name = [m[:name], m[:version], m[:platform]].compact.join("-")
        m[:checksums].to_s.split(",").each do |entry|
          digest = entry.match(DIGEST)
          fail_at(number, "cannot parse checksum #{entry.inspect} of #{full_name}") unless digest
          next unless digest[:algorithm] == "sha256"

          hex = digest[:digest]
          fail_at(number, "sha256 of #{full_name} is not 64 hex digits") unless hex.match?(/\A\h{64}\z/)
          @checksums[full_name] = hex.downcase
        end
      end

      def fail_at(number, message)
        raise ParseError.new(message, path: path, line_number: number)
      end
    end
  end
end
