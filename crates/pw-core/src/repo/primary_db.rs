//! `primary.sqlite` (repomd type `primary_db`): the same packages as primary.xml, as a
//! sqlite database. Amazon Linux 2 publishes its primary metadata only in this form.
//!
//! The (possibly compressed) file is decompressed in memory and its tables are read with a
//! small built-in reader of the SQLite file format (see the `sqlite` module for why), so
//! nothing touches the filesystem. Tables read: `packages`, `provides`, `requires`, with the
//! columns createrepo and createrepo_c write (schema version 10).

use std::collections::HashMap;

use crate::nevra::Nevra;
use crate::repo::checksum::{Checksum, ChecksumKind};
use crate::repo::compression::decompress_to_vec;
use crate::repo::diagnostics::{Diagnostics, DocumentKind, ErrorKind, MetadataError, Parsed};
use crate::repo::primary::{PrimaryOptions, parse_epoch};
use crate::repo::sqlite::{Database, Table, Value};
use crate::repo::{DepFlags, Dependency, Package};
use crate::version::rpm::Evr;

/// Parses a primary_db file (plain sqlite, or compressed with gzip, xz, bzip2 or zstd).
pub fn parse_primary_db(bytes: &[u8]) -> Result<Parsed<Vec<Package>>, MetadataError> {
    parse_primary_db_with_options(bytes, PrimaryOptions::default())
}

/// [`parse_primary_db`] with explicit [`PrimaryOptions`].
pub fn parse_primary_db_with_options(
    bytes: &[u8],
    options: PrimaryOptions,
) -> Result<Parsed<Vec<Package>>, MetadataError> {
    let fail = |message: String| {
        MetadataError::new(DocumentKind::PrimaryDb, None, ErrorKind::Sqlite(message))
    };
    let plain = decompress_to_vec(bytes, None).map_err(|error| {
        MetadataError::new(DocumentKind::PrimaryDb, None, ErrorKind::Read(error))
    })?;
    let database = Database::open(&plain).map_err(fail)?;
    let mut diagnostics = Diagnostics::new(DocumentKind::PrimaryDb);

    let packages_table = database
        .table("packages")
        .map_err(fail)?
        .ok_or_else(|| fail("no `packages` table".to_owned()))?;
    let columns = PackageColumns::find(&packages_table).map_err(fail)?;
    let mut packages = Vec::new();
    let mut index_by_key: HashMap<i64, usize> = HashMap::new();
    database
        .scan(packages_table.root, |rowid, values| {
            let key = column(values, packages_table.rowid_column)
                .integer()
                .unwrap_or(rowid);
            match columns.package(values) {
                Ok(package) => {
                    index_by_key.insert(key, packages.len());
                    packages.push(package);
                }
                Err(message) => diagnostics.push(
                    None,
                    Some(&format!("packages row {rowid}")),
                    format!("{message}; package skipped"),
                ),
            }
            Ok(())
        })
        .map_err(fail)?;

    let tables: &[(&str, bool)] = if options.dependencies {
        &[("provides", true), ("requires", false)]
    } else {
        &[]
    };
    for &(table_name, provides) in tables {
        let Some(table) = database.table(table_name).map_err(fail)? else {
            diagnostics.push(
                None,
                None,
                format!("no `{table_name}` table; packages have no {table_name}"),
            );
            continue;
        };
        let dependency_columns = DependencyColumns::find(&table).map_err(fail)?;
        database
            .scan(table.root, |rowid, values| {
                let Some(&index) = column(values, dependency_columns.key)
                    .integer()
                    .and_then(|key| index_by_key.get(&key))
                else {
                    return Ok(());
                };
                match dependency_columns.dependency(values) {
                    Ok(None) => {}
                    Ok(Some(dependency)) if !provides && dependency.name.starts_with("rpmlib(") => {
                    }
                    Ok(Some(dependency)) => {
                        let package = &mut packages[index];
                        if provides {
                            package.provides.push(dependency)
                        } else {
                            package.requires.push(dependency)
                        }
                    }
                    Err(message) => diagnostics.push(
                        None,
                        Some(&format!("{table_name} row {rowid}")),
                        format!("{message}; entry dropped"),
                    ),
                }
                Ok(())
            })
            .map_err(fail)?;
    }
    for package in &mut packages {
        package.provides.shrink_to_fit();
        package.requires.shrink_to_fit();
    }
    Ok(diagnostics.into_parsed(packages))
}

fn column<'v, 'a>(values: &'v [Value<'a>], index: Option<usize>) -> &'v Value<'a> {
    index
        .and_then(|index| values.get(index))
        .unwrap_or(&Value::Null)
}

fn text(values: &[Value<'_>], index: Option<usize>, what: &str) -> Result<Option<String>, String> {
    column(values, index)
        .text()
        .map(|text| {
            text.map(|text| text.into_owned())
                .filter(|text| !text.is_empty())
        })
        .map_err(|message| format!("{what}: {message}"))
}

fn required(values: &[Value<'_>], index: Option<usize>, what: &str) -> Result<String, String> {
    text(values, index, what)?.ok_or_else(|| format!("missing {what}"))
}

struct PackageColumns {
    pkg_id: Option<usize>,
    name: Option<usize>,
    arch: Option<usize>,
    version: Option<usize>,
    epoch: Option<usize>,
    release: Option<usize>,
    time_build: Option<usize>,
    source_rpm: Option<usize>,
    size_package: Option<usize>,
    size_installed: Option<usize>,
    location: Option<usize>,
    checksum_type: Option<usize>,
}

impl PackageColumns {
    fn find(table: &Table) -> Result<PackageColumns, String> {
        let columns = PackageColumns {
            pkg_id: table.column("pkgId"),
            name: table.column("name"),
            arch: table.column("arch"),
            version: table.column("version"),
            epoch: table.column("epoch"),
            release: table.column("release"),
            time_build: table.column("time_build"),
            source_rpm: table.column("rpm_sourcerpm"),
            size_package: table.column("size_package"),
            size_installed: table.column("size_installed"),
            location: table.column("location_href"),
            checksum_type: table.column("checksum_type"),
        };
        if columns.name.is_none()
            || columns.arch.is_none()
            || columns.version.is_none()
            || columns.location.is_none()
        {
            return Err(
                "the `packages` table lacks name, arch, version or location_href".to_owned(),
            );
        }
        Ok(columns)
    }

    fn package(&self, values: &[Value<'_>]) -> Result<Package, String> {
        let name = required(values, self.name, "name")?;
        let arch = required(values, self.arch, "arch")?;
        let version = required(values, self.version, "version")?;
        let release = text(values, self.release, "release")?.unwrap_or_default();
        let epoch = parse_epoch(&text(values, self.epoch, "epoch")?.unwrap_or_default())?;
        let location = required(values, self.location, "location_href")?;
        let checksum = match (
            text(values, self.checksum_type, "checksum_type")?,
            text(values, self.pkg_id, "pkgId")?,
        ) {
            (Some(kind), Some(value)) => {
                ChecksumKind::parse(&kind).and_then(|kind| Checksum::from_hex(kind, &value).ok())
            }
            _ => None,
        };
        let size = |index| {
            column(values, index)
                .integer()
                .and_then(|size| u64::try_from(size).ok())
        };
        Ok(Package {
            nevra: Nevra {
                name,
                evr: Evr {
                    epoch,
                    version,
                    release,
                },
                arch,
            },
            build_time: column(values, self.time_build).integer(),
            location,
            source_rpm: text(values, self.source_rpm, "rpm_sourcerpm")?,
            requires: Vec::new(),
            provides: Vec::new(),
            checksum,
            package_size: size(self.size_package),
            installed_size: size(self.size_installed),
        })
    }
}

struct DependencyColumns {
    name: Option<usize>,
    flags: Option<usize>,
    epoch: Option<usize>,
    version: Option<usize>,
    release: Option<usize>,
    key: Option<usize>,
}

impl DependencyColumns {
    fn find(table: &Table) -> Result<DependencyColumns, String> {
        let columns = DependencyColumns {
            name: table.column("name"),
            flags: table.column("flags"),
            epoch: table.column("epoch"),
            version: table.column("version"),
            release: table.column("release"),
            key: table.column("pkgKey"),
        };
        if columns.name.is_none() || columns.key.is_none() {
            return Err("a dependency table lacks name or pkgKey".to_owned());
        }
        Ok(columns)
    }

    fn dependency(&self, values: &[Value<'_>]) -> Result<Option<Dependency>, String> {
        let Some(name) = text(values, self.name, "name")? else {
            return Err("entry without a name".to_owned());
        };
        let flags = match text(values, self.flags, "flags")? {
            None => None,
            Some(text) => Some(
                DepFlags::from_rpmmd(&text)
                    .ok_or_else(|| format!("{name}: unknown flags {text:?}"))?,
            ),
        };
        let evr = match text(values, self.version, "version")? {
            None => None,
            Some(version) => {
                let epoch = parse_epoch(&text(values, self.epoch, "epoch")?.unwrap_or_default())?;
                let release = text(values, self.release, "release")?.unwrap_or_default();
                Some(Evr {
                    epoch,
                    version,
                    release,
                })
            }
        };
        Ok(Some(Dependency { name, flags, evr }))
    }
}
