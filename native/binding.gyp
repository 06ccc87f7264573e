{
  "targets": [
    {
      "target_name": "ambit_capture",
      "sources": [
        "src/addon.c",
        "src/errors.c",
        "src/args.c",
        "src/netns_socket.c",
        "src/sockopts.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "libraries": ["-lpthread"]
    }
  ]
}
