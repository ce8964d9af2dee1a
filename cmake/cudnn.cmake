# cuDNN detection for the CUDA configuration (included after find_package(CUDAToolkit)). Looks for
# cudnn_version.h and libcudnn beside the CUDA toolkit, in the system folders and in a pip
# nvidia-cudnn-cu* package; prints what it found, and on success defines WEFT_CUDNN_FOUND,
# WEFT_CUDNN_VERSION, WEFT_CUDNN_INCLUDE and WEFT_CUDNN_LIBRARY. -DWEFT_CUDNN=OFF skips it. Targets that use
# cuDNN link WEFT_CUDNN_LIBRARY and get WEFT_HAVE_CUDNN (runtime/CMakeLists.txt: the CUDA backend only).
option(WEFT_CUDNN "Use cuDNN when it is found (CUDA builds)" ON)
set(WEFT_CUDNN_FOUND OFF)
if(NOT WEFT_CUDNN)
  message(STATUS "cuDNN not used (-DWEFT_CUDNN=OFF): the cuDNN attention backend is not built")
  return()
endif()

set(_weft_cudnn_hints ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT})
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)  # pip install nvidia-cudnn-cu12 / -cu13: headers and libraries in site-packages
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))"
    OUTPUT_VARIABLE _weft_pip_cudnn OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_weft_pip_cudnn)
    list(APPEND _weft_cudnn_hints ${_weft_pip_cudnn})
  endif()
endif()
find_path(WEFT_CUDNN_INCLUDE NAMES cudnn_version.h HINTS ${_weft_cudnn_hints}
          PATHS /usr/include /usr/local/cuda/include PATH_SUFFIXES include)
find_library(WEFT_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_weft_cudnn_hints}
             PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/local/cuda/lib64 PATH_SUFFIXES lib lib64)

if(WEFT_CUDNN_INCLUDE AND WEFT_CUDNN_LIBRARY)
  file(STRINGS "${WEFT_CUDNN_INCLUDE}/cudnn_version.h" _weft_cudnn_defs REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) ")
  foreach(part MAJOR MINOR PATCHLEVEL)
    string(REGEX REPLACE ".*#define CUDNN_${part} ([0-9]+).*" "\\1" _weft_cudnn_${part} "${_weft_cudnn_defs}")
  endforeach()
  set(WEFT_CUDNN_VERSION "${_weft_cudnn_MAJOR}.${_weft_cudnn_MINOR}.${_weft_cudnn_PATCHLEVEL}")
  if(_weft_cudnn_MAJOR LESS 9)
    message(STATUS "cuDNN ${WEFT_CUDNN_VERSION} found (${WEFT_CUDNN_LIBRARY}) but 9 or newer is needed: the cuDNN "
                   "attention backend is not built")
  else()
    set(WEFT_CUDNN_FOUND ON)
    message(STATUS "cuDNN ${WEFT_CUDNN_VERSION} found: ${WEFT_CUDNN_LIBRARY} (headers ${WEFT_CUDNN_INCLUDE})")
  endif()
else()
  message(STATUS "cuDNN not found: the cuDNN attention backend is not built (looked for cudnn_version.h and "
                 "libcudnn beside CUDA, in /usr and in a pip nvidia-cudnn package; -DWEFT_CUDNN_INCLUDE=... "
                 "-DWEFT_CUDNN_LIBRARY=... point to one)")
endif()

# cuDNN's header-only C++ frontend (graph API: fused attention), from tools/install-cudnn-frontend.sh (.deps/ of
# the checkout), -DWEFT_CUDNN_FRONTEND_INCLUDE=... or the CUDNN_FRONTEND_INCLUDE environment variable. Defines
# WEFT_CUDNN_FRONTEND_FOUND; runtime/CMakeLists.txt builds backend_cuda/attention_cudnn.cpp's cuDNN half with it.
set(WEFT_CUDNN_FRONTEND_FOUND OFF)
if(WEFT_CUDNN_FOUND)
  find_path(WEFT_CUDNN_FRONTEND_INCLUDE NAMES cudnn_frontend.h
            HINTS ${PROJECT_SOURCE_DIR}/.deps/cudnn-frontend/include $ENV{CUDNN_FRONTEND_INCLUDE} NO_DEFAULT_PATH)
  if(WEFT_CUDNN_FRONTEND_INCLUDE)
    file(STRINGS "${WEFT_CUDNN_FRONTEND_INCLUDE}/cudnn_frontend_version.h" _weft_fe_defs
         REGEX "^#define CUDNN_FRONTEND_(MAJOR|MINOR|PATCH)_VERSION ")
    foreach(part MAJOR MINOR PATCH)
      string(REGEX REPLACE ".*#define CUDNN_FRONTEND_${part}_VERSION ([0-9]+).*" "\\1" _weft_fe_${part} "${_weft_fe_defs}")
    endforeach()
    set(WEFT_CUDNN_FRONTEND_FOUND ON)
    message(STATUS "cudnn-frontend ${_weft_fe_MAJOR}.${_weft_fe_MINOR}.${_weft_fe_PATCH} found (${WEFT_CUDNN_FRONTEND_INCLUDE}): "
                   "the cuDNN attention backend is built")
  else()
    message(STATUS "cudnn-frontend not found: the cuDNN attention backend is not built, --attention-backend auto "
                   "runs weft's kernels (tools/install-cudnn-frontend.sh fetches the headers into .deps/)")
  endif()
endif()
