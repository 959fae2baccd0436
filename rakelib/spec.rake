# frozen_string_literal: true

# RSpec is needed to test, not to build: `rake compile` and `rake native:x86_64-linux gem` must
# work where it is not installed (a release builder, a packager's chroot), so a missing RSpec
# only turns `rake spec` into a task that says what to install.
begin
  require "rspec/core/rake_task"

  desc "Run RSpec against lib/ and the compiled extension (rake compile first)"
  RSpec::Core::RakeTask.new(:spec)
rescue LoadError => e
  desc "Run RSpec (not installed here: #{e.message})"
  task :spec do
    abort "rake spec needs RSpec, which is not installed (#{e.message}): " \
          "apt-get install ruby-rspec, or gem install rspec"
  end
end
