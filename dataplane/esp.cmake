# ESP transforms and the anti-replay window (esp.h) with the OpenSSL EVP crypto
# backend; included from dataplane/CMakeLists.txt.
add_library(raven_esp STATIC ${CMAKE_CURRENT_LIST_DIR}/esp.c ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_evp.c)
# sources include "dataplane/..." from the project root
target_include_directories(raven_esp PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(raven_esp PUBLIC PkgConfig::OPENSSL)
