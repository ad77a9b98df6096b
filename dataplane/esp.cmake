# ESP transforms and the anti-replay window (esp.h) with the OpenSSL EVP and the
# intel-ipsec-mb crypto backends; included from dataplane/CMakeLists.txt.
# intel-ipsec-mb is optional (Debian ships it for amd64 only): without it the
# stub esp_crypto_mb_none.c stands in, its probe says "not built with
# intel-ipsec-mb", `auto` chooses OpenSSL and forcing ipsec-mb is refused.
# -DRAVEN_WITH_IPSEC_MB=OFF builds as where it is not installed.
option(RAVEN_WITH_IPSEC_MB "use intel-ipsec-mb where it is found" ON)
if(RAVEN_WITH_IPSEC_MB)
    find_library(IPSEC_MB_LIB IPSec_MB)
    find_path(IPSEC_MB_INCLUDE intel-ipsec-mb.h)
endif()
if(RAVEN_WITH_IPSEC_MB AND IPSEC_MB_LIB AND IPSEC_MB_INCLUDE)
    set(RAVEN_HAVE_IPSEC_MB ON CACHE INTERNAL "")
    set(RAVEN_ESP_MB_SRC ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_mb.c)
else()
    set(RAVEN_HAVE_IPSEC_MB OFF CACHE INTERNAL "")
    set(RAVEN_ESP_MB_SRC ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_mb_none.c)
    message(STATUS "intel-ipsec-mb not found: ESP crypto is OpenSSL EVP only")
endif()
add_library(raven_esp STATIC ${CMAKE_CURRENT_LIST_DIR}/esp.c ${CMAKE_CURRENT_LIST_DIR}/esp_crypto_evp.c
            ${RAVEN_ESP_MB_SRC} ${CMAKE_CURRENT_LIST_DIR}/esp_selftest.c)
# sources include "dataplane/..." from the project root
target_include_directories(raven_esp PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(raven_esp PUBLIC PkgConfig::OPENSSL Threads::Threads)
if(RAVEN_HAVE_IPSEC_MB)
    target_include_directories(raven_esp PRIVATE ${IPSEC_MB_INCLUDE})
    # PUBLIC: the tests skip their ipsec-mb runs without it
    target_compile_definitions(raven_esp PUBLIC RAVEN_HAVE_IPSEC_MB)
    target_link_libraries(raven_esp PUBLIC ${IPSEC_MB_LIB})
endif()
