// H5File implementation on the HDF5 C API (1.10 format features only, so h5py 3.7 reads it).
#include "runtime/checkpoint/h5.h"

#include <hdf5.h>

#include <algorithm>

#include "runtime/check.h"

namespace weft::ckpt {

namespace {

struct Silence {  // HDF5 prints error stacks to stderr by default; we report our own one-line errors
  Silence() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const Silence kSilence;

hid_t h5_type(DType dt) {
  switch (dt) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::bf16: return H5T_NATIVE_UINT16;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i64: return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_UINT8;
}

DType parse_dtype(const std::string& s, const std::string& where) {
  for (DType d : {DType::f32, DType::bf16, DType::f64, DType::i32, DType::i64})
    if (dtype_name(d) == s) return d;
  WEFT_FAIL(where, ": unknown dtype attribute '", s, "'");
}

void ensure_groups(hid_t file, const std::string& name) {
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1)) {
    std::string g = name.substr(0, p);
    if (H5Lexists(file, g.c_str(), H5P_DEFAULT) > 0) continue;
    hid_t gid = H5Gcreate2(file, g.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    WEFT_CHECK(gid >= 0, "cannot create group '", g, "'");
    H5Gclose(gid);
  }
}

void write_string_attr(hid_t obj, const char* key, const std::string& v) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<size_t>(v.size(), 1));
  hid_t space = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, key) > 0) H5Adelete(obj, key);
  hid_t a = H5Acreate2(obj, key, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = a >= 0 ? H5Awrite(a, type, v.empty() ? "" : v.data()) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Tclose(type);
  WEFT_CHECK(st >= 0, "cannot write attribute '", key, "'");
}

std::string read_string_attr(hid_t obj, const char* key) {
  hid_t a = H5Aopen(obj, key, H5P_DEFAULT);
  WEFT_CHECK(a >= 0, "missing attribute '", key, "'");
  hid_t type = H5Aget_type(a);
  size_t n = H5Tget_size(type);
  std::string s(n, '\0');
  hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, n);
  herr_t st = H5Aread(a, mem, s.data());
  H5Tclose(mem);
  H5Tclose(type);
  H5Aclose(a);
  WEFT_CHECK(st >= 0, "cannot read attribute '", key, "'");
  s.resize(std::min(s.size(), s.find('\0')));
  return s;
}

}  // namespace

H5File H5File::create(const std::string& path) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, false, true);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V110);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  WEFT_CHECK(f >= 0, "[checkpoint] cannot create HDF5 file '", path, "'");
  return H5File(f, path);
}

namespace {

// An existing file opened with `flags` (H5F_ACC_RDONLY / H5F_ACC_RDWR), without HDF5's file locking; < 0 on
// failure.
hid_t open_existing(const std::string& path, unsigned flags) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, false, true);
  hid_t f = H5Fopen(path.c_str(), flags, fapl);
  H5Pclose(fapl);
  return f;
}

}  // namespace

H5File H5File::open_read(const std::string& path) {
  hid_t f = open_existing(path, H5F_ACC_RDONLY);
  WEFT_CHECK(f >= 0, "[checkpoint] '", path, "' is not a readable HDF5 file (truncated or corrupt?)");
  return H5File(f, path);
}

H5File H5File::open_rw(const std::string& path) {
  hid_t f = open_existing(path, H5F_ACC_RDWR);
  WEFT_CHECK(f >= 0, "[checkpoint] '", path, "' is not a writable HDF5 file (truncated, corrupt or read-only?)");
  return H5File(f, path);
}

H5File::H5File(H5File&& o) noexcept : id_(o.id_), path_(std::move(o.path_)) { o.id_ = -1; }

H5File& H5File::operator=(H5File&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = o.id_;
    path_ = std::move(o.path_);
    o.id_ = -1;
  }
  return *this;
}

H5File::~H5File() {
  if (id_ >= 0) H5Fclose(id_);
}

void H5File::close() {
  if (id_ < 0) return;
  herr_t st = H5Fflush(id_, H5F_SCOPE_GLOBAL);
  herr_t st2 = H5Fclose(id_);
  id_ = -1;
  WEFT_CHECK(st >= 0 && st2 >= 0, "[checkpoint] writing '", path_, "' failed (disk full or I/O error?)");
}

void H5File::write(const std::string& name, DType dt, const Shape& shape, const void* data) {
  std::string where = "[checkpoint] " + path_ + ": dataset '" + name + "'";
  try {
    ensure_groups(id_, name);
  } catch (const Error& e) {
    WEFT_FAIL(where, ": ", e.what());
  }
  hsize_t dims[Shape::kMaxDims];
  for (int i = 0; i < shape.rank; ++i) dims[i] = static_cast<hsize_t>(shape.dims[i]);
  hid_t space = shape.rank ? H5Screate_simple(shape.rank, dims, nullptr) : H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(id_, name.c_str(), h5_type(dt), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = ds >= 0 ? H5Dwrite(ds, h5_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
  if (ds >= 0) {
    try {
      write_string_attr(ds, "dtype", std::string(dtype_name(dt)));
    } catch (const Error&) {
      st = -1;
    }
    H5Dclose(ds);
  }
  H5Sclose(space);
  WEFT_CHECK(st >= 0, where, ": write failed (disk full or I/O error?)");
}

bool H5File::has(const std::string& name) const {
  // H5Lexists fails on a path whose parent group is missing: check each level.
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1))
    if (H5Lexists(id_, name.substr(0, p).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(id_, name.c_str(), H5P_DEFAULT) > 0;
}

DType H5File::dtype_of(const std::string& name) const {
  std::string where = "[checkpoint] " + path_ + ": dataset '" + name + "'";
  WEFT_CHECK(has(name), where, " is missing");
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  WEFT_CHECK(ds >= 0, where, " cannot be opened");
  std::string s;
  try {
    s = read_string_attr(ds, "dtype");
  } catch (const Error& e) {
    H5Dclose(ds);
    WEFT_FAIL(where, ": ", e.what());
  }
  H5Dclose(ds);
  return parse_dtype(s, where);
}

Shape H5File::shape_of(const std::string& name) const {
  std::string where = "[checkpoint] " + path_ + ": dataset '" + name + "'";
  WEFT_CHECK(has(name), where, " is missing");
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  WEFT_CHECK(ds >= 0, where, " cannot be opened");
  hid_t space = H5Dget_space(ds);
  int rank = H5Sget_simple_extent_ndims(space);
  hsize_t dims[Shape::kMaxDims] = {};
  bool ok = rank >= 0 && rank <= Shape::kMaxDims && H5Sget_simple_extent_dims(space, dims, nullptr) >= 0;
  H5Sclose(space);
  H5Dclose(ds);
  WEFT_CHECK(ok, where, " has an unreadable shape");
  Shape s;
  for (int i = 0; i < rank; ++i) s.dims[s.rank++] = static_cast<int64_t>(dims[i]);
  return s;
}

void H5File::read(const std::string& name, DType dt, const Shape& expected, void* data) const {
  std::string where = "[checkpoint] " + path_ + ": dataset '" + name + "'";
  Shape s = shape_of(name);
  WEFT_CHECK(s == expected, where, " has shape ", s.str(), " but the model expects ", expected.str());
  DType stored = dtype_of(name);
  WEFT_CHECK(stored == dt, where, " has dtype ", dtype_name(stored), " but ", dtype_name(dt), " was expected");
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  herr_t st = ds >= 0 ? H5Dread(ds, h5_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
  if (ds >= 0) H5Dclose(ds);
  WEFT_CHECK(st >= 0, where, ": read failed (corrupt file?)");
}

void H5File::read_rows(const std::string& name, DType dt, int64_t begin, int64_t count, void* data) const {
  std::string where = "[checkpoint] " + path_ + ": dataset '" + name + "'";
  Shape s = shape_of(name);
  WEFT_CHECK(s.rank >= 1 && begin >= 0 && count >= 0 && begin + count <= s[0], where, " of shape ", s.str(),
             " has no rows [", begin, ", ", begin + count, ")");
  DType stored = dtype_of(name);
  WEFT_CHECK(stored == dt, where, " has dtype ", dtype_name(stored), " but ", dtype_name(dt), " was expected");
  if (count == 0) return;
  hsize_t start[Shape::kMaxDims] = {}, dims[Shape::kMaxDims];
  for (int i = 0; i < s.rank; ++i) dims[i] = static_cast<hsize_t>(s.dims[i]);
  start[0] = static_cast<hsize_t>(begin);
  dims[0] = static_cast<hsize_t>(count);
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  hid_t file_space = ds >= 0 ? H5Dget_space(ds) : -1;
  hid_t mem_space = H5Screate_simple(s.rank, dims, nullptr);
  herr_t st = file_space >= 0 ? H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, dims, nullptr) : -1;
  if (st >= 0) st = H5Dread(ds, h5_type(dt), mem_space, file_space, H5P_DEFAULT, data);
  H5Sclose(mem_space);
  if (file_space >= 0) H5Sclose(file_space);
  if (ds >= 0) H5Dclose(ds);
  WEFT_CHECK(st >= 0, where, ": reading rows [", begin, ", ", begin + count, ") failed (corrupt file?)");
}

namespace {
herr_t collect(hid_t, const char* name, const H5O_info_t* info, void* out) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5File::dataset_names() const {
  std::vector<std::string> names;
  WEFT_CHECK(H5Ovisit(id_, H5_INDEX_NAME, H5_ITER_INC, collect, &names) >= 0, "[checkpoint] ", path_,
             ": cannot list datasets (corrupt file?)");
  std::sort(names.begin(), names.end());
  return names;
}

int64_t H5File::data_offset(const std::string& name) const {
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  WEFT_CHECK(ds >= 0, "[checkpoint] ", path_, ": dataset '", name, "' cannot be opened");
  haddr_t off = H5Dget_offset(ds);
  H5Dclose(ds);
  WEFT_CHECK(off != HADDR_UNDEF, "[checkpoint] ", path_, ": dataset '", name, "' has no contiguous storage");
  return static_cast<int64_t>(off);
}

void H5File::write_scalar_attr(const std::string& key, int64_t type, const void* v) {
  hid_t space = H5Screate(H5S_SCALAR);
  if (H5Aexists(id_, key.c_str()) > 0) H5Adelete(id_, key.c_str());
  hid_t a = H5Acreate2(id_, key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = a >= 0 ? H5Awrite(a, type, v) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": cannot write attribute '", key, "'");
}

void H5File::read_scalar_attr(const std::string& key, int64_t type, void* v) const {
  hid_t a = H5Aopen(id_, key.c_str(), H5P_DEFAULT);
  herr_t st = a >= 0 ? H5Aread(a, type, v) : -1;
  if (a >= 0) H5Aclose(a);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": missing or unreadable attribute '", key, "'");
}

void H5File::set_attr(const std::string& key, int64_t v) { write_scalar_attr(key, H5T_NATIVE_INT64, &v); }
void H5File::set_attr(const std::string& key, double v) { write_scalar_attr(key, H5T_NATIVE_DOUBLE, &v); }

void H5File::set_attr(const std::string& key, const std::string& v) {
  try {
    write_string_attr(id_, key.c_str(), v);
  } catch (const Error& e) {
    WEFT_FAIL("[checkpoint] ", path_, ": ", e.what());
  }
}

bool H5File::has_attr(const std::string& key) const { return H5Aexists(id_, key.c_str()) > 0; }

namespace {
// Opens a dataset for its attributes; throws naming the file and the dataset.
hid_t open_dataset(hid_t file, const std::string& path, const std::string& name) {
  hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  WEFT_CHECK(ds >= 0, "[checkpoint] ", path, ": dataset '", name, "' cannot be opened");
  return ds;
}
}  // namespace

void H5File::set_dataset_attr(const std::string& dataset, const std::string& key, const std::vector<int64_t>& v) {
  hid_t ds = open_dataset(id_, path_, dataset);
  hsize_t n = v.size();
  hid_t space = H5Screate_simple(1, &n, nullptr);
  if (H5Aexists(ds, key.c_str()) > 0) H5Adelete(ds, key.c_str());
  hid_t a = H5Acreate2(ds, key.c_str(), H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = a >= 0 ? H5Awrite(a, H5T_NATIVE_INT64, v.data()) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Dclose(ds);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": cannot write attribute '", key, "' of dataset '", dataset, "'");
}

void H5File::set_dataset_attr(const std::string& dataset, const std::string& key, const std::string& v) {
  hid_t ds = open_dataset(id_, path_, dataset);
  try {
    write_string_attr(ds, key.c_str(), v);
  } catch (const Error& e) {
    H5Dclose(ds);
    WEFT_FAIL("[checkpoint] ", path_, ": dataset '", dataset, "': ", e.what());
  }
  H5Dclose(ds);
}

void H5File::set_dataset_attr(const std::string& dataset, const std::string& key, double v) {
  hid_t ds = open_dataset(id_, path_, dataset);
  hid_t space = H5Screate(H5S_SCALAR);
  if (H5Aexists(ds, key.c_str()) > 0) H5Adelete(ds, key.c_str());
  hid_t a = H5Acreate2(ds, key.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = a >= 0 ? H5Awrite(a, H5T_NATIVE_DOUBLE, &v) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  H5Dclose(ds);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": cannot write attribute '", key, "' of dataset '", dataset, "'");
}

double H5File::dataset_attr_double(const std::string& dataset, const std::string& key) const {
  hid_t ds = open_dataset(id_, path_, dataset);
  hid_t a = H5Aexists(ds, key.c_str()) > 0 ? H5Aopen(ds, key.c_str(), H5P_DEFAULT) : -1;
  double v = 0.0;
  herr_t st = a >= 0 ? H5Aread(a, H5T_NATIVE_DOUBLE, &v) : -1;
  if (a >= 0) H5Aclose(a);
  H5Dclose(ds);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": dataset '", dataset, "' has no readable attribute '", key, "'");
  return v;
}

std::vector<int64_t> H5File::dataset_attr_ints(const std::string& dataset, const std::string& key) const {
  hid_t ds = open_dataset(id_, path_, dataset);
  hid_t a = H5Aexists(ds, key.c_str()) > 0 ? H5Aopen(ds, key.c_str(), H5P_DEFAULT) : -1;
  hid_t space = a >= 0 ? H5Aget_space(a) : -1;
  hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  std::vector<int64_t> v(n > 0 && n <= 64 ? static_cast<size_t>(n) : 0);
  herr_t st = n == 0 ? 0 : n > 0 && n <= 64 ? H5Aread(a, H5T_NATIVE_INT64, v.data()) : -1;
  if (space >= 0) H5Sclose(space);
  if (a >= 0) H5Aclose(a);
  H5Dclose(ds);
  WEFT_CHECK(st >= 0, "[checkpoint] ", path_, ": dataset '", dataset, "' has no readable attribute '", key, "'");
  return v;
}

std::string H5File::dataset_attr_string(const std::string& dataset, const std::string& key) const {
  hid_t ds = open_dataset(id_, path_, dataset);
  std::string s;
  try {
    s = read_string_attr(ds, key.c_str());
  } catch (const Error& e) {
    H5Dclose(ds);
    WEFT_FAIL("[checkpoint] ", path_, ": dataset '", dataset, "': ", e.what());
  }
  H5Dclose(ds);
  return s;
}

namespace {
// A scalar attribute of the object at `object` (group or dataset): written (replacing) or read.
herr_t object_scalar_attr(hid_t file, const std::string& object, const std::string& key, hid_t type, void* v,
                          bool write) {
  hid_t obj = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  if (obj < 0) return -1;
  herr_t st = -1;
  if (write) {
    hid_t space = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, key.c_str()) > 0) H5Adelete(obj, key.c_str());
    hid_t a = H5Acreate2(obj, key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    st = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
  } else {
    hid_t a = H5Aexists(obj, key.c_str()) > 0 ? H5Aopen(obj, key.c_str(), H5P_DEFAULT) : -1;
    st = a >= 0 ? H5Aread(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
  }
  H5Oclose(obj);
  return st;
}
}  // namespace

void H5File::set_object_attr(const std::string& object, const std::string& key, int64_t v) {
  WEFT_CHECK(object_scalar_attr(id_, object, key, H5T_NATIVE_INT64, &v, true) >= 0, "[checkpoint] ", path_,
             ": cannot write attribute '", key, "' of '", object, "'");
}

void H5File::set_object_attr(const std::string& object, const std::string& key, double v) {
  WEFT_CHECK(object_scalar_attr(id_, object, key, H5T_NATIVE_DOUBLE, &v, true) >= 0, "[checkpoint] ", path_,
             ": cannot write attribute '", key, "' of '", object, "'");
}

int64_t H5File::object_attr_int(const std::string& object, const std::string& key) const {
  int64_t v = 0;
  WEFT_CHECK(object_scalar_attr(id_, object, key, H5T_NATIVE_INT64, &v, false) >= 0, "[checkpoint] ", path_,
             ": '", object, "' has no readable attribute '", key, "'");
  return v;
}

double H5File::object_attr_double(const std::string& object, const std::string& key) const {
  double v = 0;
  WEFT_CHECK(object_scalar_attr(id_, object, key, H5T_NATIVE_DOUBLE, &v, false) >= 0, "[checkpoint] ", path_,
             ": '", object, "' has no readable attribute '", key, "'");
  return v;
}

int64_t H5File::attr_int(const std::string& key) const {
  int64_t v = 0;
  read_scalar_attr(key, H5T_NATIVE_INT64, &v);
  return v;
}

double H5File::attr_double(const std::string& key) const {
  double v = 0;
  read_scalar_attr(key, H5T_NATIVE_DOUBLE, &v);
  return v;
}

std::string H5File::attr_string(const std::string& key) const {
  try {
    return read_string_attr(id_, key.c_str());
  } catch (const Error& e) {
    WEFT_FAIL("[checkpoint] ", path_, ": ", e.what());
  }
}

}  // namespace weft::ckpt
