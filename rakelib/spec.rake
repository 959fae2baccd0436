# frozen_string_literal: true

require "rspec/core/rake_task"

desc "Run RSpec against lib/ and the compiled extension (rake compile first)"
RSpec::Core::RakeTask.new(:spec)
