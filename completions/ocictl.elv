
set edit:completion:arg-completer[ocictl] = { |@words|
    var index = (count $words)
    set index = (- $index 1)

    put (env _CLAP_IFS="\n" _CLAP_COMPLETE_INDEX=(to-string $index) OCICTL_COMPLETE="elvish" ocictl -- $@words) | to-lines
}

