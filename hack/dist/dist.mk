# dist.mk: release artifacts, docs and their checks (hack/dist/). Include it from the root
# Makefile:   include hack/dist/dist.mk      (or use it alone: make -f hack/dist/dist.mk dist)
#
#   make dist          dist/: the plugin for linux, darwin, windows x amd64, arm64 (CGO_ENABLED=0),
#                      one archive each, checksums.txt, the krew manifest shark.yaml, and the sniffer
#                      images (linux/amd64 + linux/arm64, docker-archives and one OCI layout)
#   make dist-images   only the sniffer images, into dist/
#   make dist-verify   check dist/ as krew would (hack/dist/krewcheck on the existing output)
#   make test-dist     the tests of hack/dist: unit tests, then a whole dist.sh run into a temp dir
#                      checked as krew would (about 5 minutes warm, 20 cold on 2 CPUs)
#   make docs          regenerate docs/kfl.md from the KFL field registry
#   make verify-docs   fail when docs/kfl.md is out of date
#
# Variables: VERSION (from the environment or the command line; else hack/dist/version.sh derives it
# from git), SOURCE_DATE_EPOCH, IMAGE_REPOSITORY, DIST_DIR (default dist).

DIST_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
DIST_DIR ?= dist
DIST_GO ?= $(or $(GO),go)
# A VERSION the root Makefile computed (git describe, not normalised) is not passed on: only one
# given by the user is. version.sh makes either a semantic version.
DIST_ENV = $(if $(filter environment environment\ override command\ line,$(origin VERSION)),VERSION='$(VERSION)',-u VERSION)

.PHONY: dist dist-images dist-verify test-dist docs verify-docs

dist:
	env $(DIST_ENV) $(DIST_MK_DIR)/dist.sh $(DIST_DIR)

dist-images:
	env $(DIST_ENV) $(DIST_MK_DIR)/sniffer-images.sh $(DIST_DIR)

dist-verify:
	SHARK_DIST_DIR=$(abspath $(DIST_DIR)) $(DIST_GO) test -count=1 -timeout 20m ./$(DIST_MK_DIR)/krewcheck

test-dist:
	env $(DIST_ENV) $(DIST_GO) test -count=1 -timeout 60m ./$(DIST_MK_DIR)/...

docs:
	$(DIST_GO) run ./$(DIST_MK_DIR)/kfldoc -o docs/kfl.md

verify-docs:
	$(DIST_GO) run ./$(DIST_MK_DIR)/kfldoc -check docs/kfl.md
