# frozen_string_literal: true

module Wow
  module Fetch
    # The Gemfile dependencies that `bundle install` leaves out under Bundler's group settings:
    # `without`, `with`, `only`, and groups declared `optional: true`. A lockfile does not record
    # groups, so the command line and the Rake task ask the Gemfile next to it, the way
    # Bundler::Definition#requested_groups does.
    #
    # A Gemfile is Ruby, so Bundler's own DSL reads it (Bundler ships with every Ruby we support),
    # and only when a group setting or an optional group can change the answer: a plain lockfile
    # costs no Bundler load.
    module GemfileGroups
      module_function

      # @param gemfile [String] path of the Gemfile (or gems.rb)
      # @param settings [BundlerSettings]
      # @return [Array<String>] names of the Gemfile's dependencies the install leaves out
      def excluded(gemfile, settings)
        without = settings.groups("without")
        with = settings.groups("with")
        only = settings.groups("only")
        return [] unless File.file?(gemfile)
        return [] if without.empty? && only.empty? && !File.read(gemfile).include?("optional")

        dependencies, optional = evaluate(gemfile)
        requested = dependencies.flat_map(&:groups).uniq - without - optional + with
        # `only` came with Bundler 2.4; an older Bundler ignores the setting, and so do we.
        requested &= only unless only.empty? || !::Bundler::Settings::ARRAY_KEYS.include?("only")
        dependencies.reject { |dependency| dependency.groups.intersect?(requested) }.map(&:name)
      end

      # The Gemfile through Bundler::Dsl, from its own directory (for `path:` and `gemspec`).
      def evaluate(gemfile)
        require "bundler"
        dsl = ::Bundler::Dsl.new
        Dir.chdir(File.dirname(File.expand_path(gemfile))) { dsl.eval_gemfile(File.expand_path(gemfile)) }
        # Bundler keeps the optional groups only in the DSL's state, which becomes the
        # Definition's; no reader exists in any version we support.
        [dsl.dependencies, Array(dsl.instance_variable_get(:@optional_groups))]
      end

      # The Gemfile that a lockfile belongs to: Gemfile.lock → Gemfile, gems.locked → gems.rb.
      def gemfile_for(lockfile)
        lockfile.end_with?("gems.locked") ? lockfile.sub(/gems\.locked\z/, "gems.rb") : lockfile.delete_suffix(".lock")
      end
    end
  end
end
