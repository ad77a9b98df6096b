# The dataplane's netlink side (dp_nl.c, dp_nl_kernel.c): rtnetlink over libmnl, and the next-hop
# cache (dp_nl_cache.c) in a liburcu lock-free hash table (QSBR flavour). Included from
# dataplane/CMakeLists.txt.
if(NOT TARGET PkgConfig::LIBMNL)
    pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
endif()
if(NOT TARGET PkgConfig::LIBURCU_QSBR)
    pkg_check_modules(LIBURCU_QSBR REQUIRED IMPORTED_TARGET liburcu-qsbr)
endif()
if(NOT TARGET PkgConfig::LIBURCU_CDS)
    pkg_check_modules(LIBURCU_CDS REQUIRED IMPORTED_TARGET liburcu-cds)
endif()

add_library(raven_dp_nl STATIC ${CMAKE_CURRENT_LIST_DIR}/dp_nl.c ${CMAKE_CURRENT_LIST_DIR}/dp_nl_kernel.c
    ${CMAKE_CURRENT_LIST_DIR}/dp_nl_cache.c)
target_include_directories(raven_dp_nl PUBLIC ${PROJECT_SOURCE_DIR})
# Callers register their threads with liburcu-qsbr themselves: public.
target_link_libraries(raven_dp_nl PUBLIC PkgConfig::LIBURCU_QSBR PkgConfig::LIBURCU_CDS Threads::Threads
    PRIVATE PkgConfig::LIBMNL raven_base)
