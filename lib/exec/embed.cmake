# cmake -DIN=PROGRAM -DTEMPLATE=shim_image.cpp.in -DOUT=shim_image.cpp -P embed.cmake
# Writes the source that embeds PROGRAM in the exec library, with PROGRAM's hash in it.
file(SHA256 "${IN}" hash)
configure_file("${TEMPLATE}" "${OUT}" @ONLY)
