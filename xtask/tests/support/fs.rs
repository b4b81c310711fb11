//! File helpers shared by the integration tests (through `support`) and the permission contract
//! unit test (`xtask/src/permissions/contract.rs` includes this file by path).

use std::path::Path;

/// Copy `from` to `to`, keeping symlinks and skipping terraform's working directories.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        // The committed .terraform.lock.hcl files come along: xtask inits with -lockfile=readonly.
        if name == ".terraform" || name.to_string_lossy().ends_with(".tfstate") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let meta = std::fs::symlink_metadata(&src).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if meta.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
