#!/usr/bin/env bash
# Filled in by its module (issue 6).
mkdir -p "$2"
