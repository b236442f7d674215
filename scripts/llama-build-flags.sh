# Build flags for llama-cpp-python, which PyPI ships only as source (sourced by the
# install scripts). Why: a default build uses -march=native, and on Intel Xeons with AMX
# the AMX matmul of llama.cpp in llama-cpp-python 0.3.17+ segfaults when built by GCC 12
# (llama.cpp issue 20824). GGML_NATIVE=OFF with an explicit AVX2/FMA/F16C baseline builds
# code that runs on every machine of this workplace (AMD EPYC with AVX2 or AVX-512, Intel
# Xeon with AMX) and compiles in ~3 minutes on 2 cores instead of ~10.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
