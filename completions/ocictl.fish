complete --keep-order --exclusive --command ocictl --arguments "(OCICTL_COMPLETE=fish ocictl -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
