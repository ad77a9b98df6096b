# ESP transforms and the anti-replay window (esp.h) with the OpenSSL EVP and the
# intel-ipsec-mb crypto backends; included from dataplane/CMakeLists.txt.
find_library(IPSEC_MB_LIB IPSec_MB REQUIRED)
find_path(IPSEC_MB_INCLUDE intel-ipsec-mb.h REQUIRED)
add_library(raven_esp STATIC ${CMAKE_CURRENT_LIST_DIR}/esp.c ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_evp.c
            ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_mb.c ${CMAKE_CURRENT_LIST_DIR}/esp_selftest.c)
target_include_directories(raven_esp PRIVATE ${IPSEC_MB_INCLUDE})
# sources include "dataplane/..." from the project root
target_include_directories(raven_esp PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(raven_esp PUBLIC PkgConfig::OPENSSL ${IPSEC_MB_LIB} Threads::Threads)
