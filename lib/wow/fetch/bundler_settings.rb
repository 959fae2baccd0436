# frozen_string_literal: true

require "socket"
require "uri"

module Wow
  module Fetch
    # The part of Bundler's configuration that decides where a gem is downloaded from: mirrors,
    # credentials and `force_ruby_platform`, read the way `Bundler::Settings` reads them (the app's
    # `.bundle/config`, then `BUNDLE_*` environment variables, then the user's `~/.bundle/config`)
    # without loading Bundler, so the command line works outside a bundle.
    #
    #   settings = Wow::Fetch::BundlerSettings.new(root: "/app")
    #   settings.remote("https://rubygems.org/")  # => "https://user:pass@mirror.example/"
    #
    # Only keys are compared, never logged: values may hold credentials.
    class BundlerSettings
      # The keys Bundler treats as booleans among those we read (Bundler::Settings::BOOL_KEYS).
      BOOL_KEYS = %w[force_ruby_platform ignore_config].freeze

      # @param root [String, nil] the directory holding the Gemfile (its `.bundle/config` applies)
      # @param env [Hash] environment (only `BUNDLE_*` keys and the config-location keys are read)
      # @param home [String, nil] the user's home, for `~/.bundle/config`
      # @param prober [#call, nil] `prober.call(uri, timeout)` → true when a mirror with a
      #   `fallback_timeout` answers; defaults to a TCP connect, as Bundler's TCPSocketProbe
      def initialize(root: nil, env: ENV, home: default_home(env), prober: nil)
        @env = env.to_h
        @prober = prober || method(:tcp_reachable?)
        @warnings = []
        @env_config = @env.select { |key, _| key.start_with?("BUNDLE_") && key.size > 7 }
        ignore = to_bool(@env_config["BUNDLE_IGNORE_CONFIG"])
        @local_config = ignore ? {} : load_config(local_config_file(root))
        @global_config = ignore ? {} : load_config(global_config_file(home))
      end

      # What could not be read, one line each, for the caller to show as warnings.
      attr_reader :warnings

      # A setting by its Bundler name ("force_ruby_platform", "https://gems.example.com/",
      # "gems.example.com", "mirror.https://rubygems.org/"), local config first, then the
      # environment, then the global config — Bundler's precedence.
      def [](name)
        key = self.class.key_for(name)
        value = [@local_config, @env_config, @global_config].map { |config| config[key] }.compact.first
        BOOL_KEYS.include?(name.to_s) ? to_bool(value) : value
      end

      # A list setting (`without`, `with`, `only`) as Bundler reads it: names separated by colons
      # or spaces, as symbols.
      def groups(name)
        self[name].to_s.tr(" ", ":").split(":").reject(&:empty?).map(&:to_sym)
      end

      def force_ruby_platform?
        self["force_ruby_platform"] == true
      end

      # The URI a remote is really fetched from, as Bundler::Source::Rubygems::Remote computes it:
      # the configured mirror (if any) with credentials from the URL, else from the settings for
      # the full URI, else for its host.
      #
      # @param remote [String] a `remote:` of a lockfile GEM section
      # @return [String] absolute URI ending in "/", possibly with userinfo
      def remote(remote)
        uri = URI(mirror_for(remote))
        if uri.userinfo.nil? && (auth = credentials_for(uri))
          user, password = auth.split(":", 2)
          uri.user = user
          uri.password = password if password
        end
        uri.to_s
      rescue URI::InvalidComponentError
        raise ArgumentError, "the credentials configured for #{redact(remote)} are not URL-escaped; " \
                             "CGI-escape user names and passwords in Bundler settings"
      end

      # Bundler::Settings#mirror_for: `mirror.all`, then the mirror for the exact URI, then for
      # its host; a mirror with a fallback_timeout is used only if it answers in time.
      def mirror_for(remote)
        uri = self.class.normalize_uri(remote)
        mirrors = parse_mirrors
        all = mirrors["all"]
        return all[:uri] if all && all[:uri] && usable?(all)

        # Like Bundler, a mirror for the exact URI shadows one for the host even when unusable.
        mirror = mirrors[uri.downcase] || mirrors[host_of(uri)&.downcase]
        mirror && mirror[:uri] && usable?(mirror) ? mirror[:uri] : uri
      end

      # Bundler::Settings#credentials_for: the setting for the whole URI, else for its host.
      def credentials_for(uri)
        uri = URI(uri.to_s)
        self[uri.to_s] || self[uri.host]
      end

      # Bundler::Settings.key_for.
      def self.key_for(name)
        name = name.to_s
        name = normalize_uri(name) if name.start_with?("http") || name.start_with?("mirror.http")
        "BUNDLE_#{name.gsub(".", "__").gsub("-", "___").upcase}"
      end

      # Bundler::Settings.normalize_uri: absolute, ending in "/"; keeps a "mirror." prefix and a
      # ".fallback_timeout" suffix around a URI.
      def self.normalize_uri(uri)
        uri = uri.to_s
        prefix = suffix = ""
        if (m = uri.match(%r{\A(mirror\.)?(https?://.*?)(\.fallback_timeout/?)?\z}i))
          prefix = m[1].to_s
          uri = m[2]
          suffix = m[3].to_s
        end
        uri = "#{uri}/" unless uri.end_with?("/")
        parsed = URI(uri)
        raise ArgumentError, "Gem sources must be absolute. You provided '#{uri}'." unless parsed.absolute?

        "#{prefix}#{parsed}#{suffix}"
      end

      private

      # Bundler::Settings::Mirrors: every `mirror.*` key, by normalized URI, host, or "all".
      def parse_mirrors
        @parse_mirrors ||= begin
          mirrors = {}
          keys = @global_config.keys | @env_config.keys | @local_config.keys
          keys.each do |key|
            name = key.sub(/\ABUNDLE_/, "").gsub("___", "-").gsub("__", ".").downcase
            next unless (m = name.match(%r{\Amirror\.(all|.+?)(\.fallback_timeout)?/?\z}))

            target = m[1]
            target = self.class.normalize_uri(target).downcase if target != "all" && target.match?(%r{\A\w+://})
            value = self[name]
            next if value.nil?

            mirror = (mirrors[target] ||= { uri: nil, fallback_timeout: 0 })
            if m[2]
              mirror[:fallback_timeout] = fallback_seconds(value)
            else
              mirror[:uri] = self.class.normalize_uri(value)
            end
          end
          mirrors
        end
      end

      def fallback_seconds(value)
        case value.to_s
        when "true" then 0.1 # Bundler::Settings::Mirror::DEFAULT_FALLBACK_TIMEOUT
        when "false" then 0
        else value.to_s.to_i
        end
      end

      def usable?(mirror)
        return true if mirror[:fallback_timeout].zero?

        @prober.call(URI(mirror[:uri]), mirror[:fallback_timeout])
      end

      def tcp_reachable?(uri, timeout)
        Socket.tcp(uri.host, uri.port, connect_timeout: timeout).close
        true
      rescue StandardError
        false
      end

      def host_of(uri)
        URI(uri).host
      rescue URI::Error
        nil
      end

      def to_bool(value)
        case value
        when nil, false, /\A(false|f|no|n|0|)\z/i then false
        else true
        end
      end

      def default_home(env)
        env["HOME"] || Dir.home
      rescue ArgumentError
        nil
      end

      def local_config_file(root)
        return nil unless root

        app_config = @env["BUNDLE_APP_CONFIG"]
        dir = app_config && !app_config.empty? ? File.expand_path(app_config, root) : File.join(root, ".bundle")
        File.join(dir, "config")
      end

      def global_config_file(home)
        if present?(@env["BUNDLE_CONFIG"]) then @env["BUNDLE_CONFIG"]
        elsif present?(@env["BUNDLE_USER_CONFIG"]) then @env["BUNDLE_USER_CONFIG"]
        elsif present?(@env["BUNDLE_USER_HOME"]) then File.join(@env["BUNDLE_USER_HOME"], "config")
        elsif present?(home) then File.join(home, ".bundle", "config")
        end
      end

      def present?(value)
        value && !value.empty?
      end

      # Bundler's config files are the small YAML subset Bundler::YAMLSerializer writes:
      # `KEY: "value"` lines (keys may contain "://", so this is not handed to Psych).
      CONFIG_LINE = /\A(?<key>[A-Za-z_].*?):(?=\s|\z)\s*(?<quote>['"]?)(?<value>.*)\k<quote>\s*\z/.freeze
      private_constant :CONFIG_LINE

      def load_config(file)
        return {} unless file && File.file?(file)

        File.foreach(file).each_with_object({}) do |line, config|
          next unless (m = line.chomp.match(CONFIG_LINE))

          config[m[:key].gsub("-", "___")] = m[:value] unless m[:value].empty?
        end
      rescue SystemCallError => e
        # Mirrors and credentials configured there are lost: the user must hear it, once.
        @warnings << "cannot read #{file} (#{e.message.sub(/ @ .*/, "").sub(/ - .*\z/, "")}): " \
                     "mirrors and credentials configured there are not applied"
        {}
      end

      def redact(remote)
        remote.to_s.sub(%r{//[^/@]*@}, "//")
      end
    end
  end
end
