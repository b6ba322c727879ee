//! Password protection: AES-256 (PDF 2.0, the default) or AES-128 encryption with a user
//! password (to open) and an owner password (to change permissions), and the permissions a
//! reader grants to users who only know the user password.

use std::collections::BTreeMap;
use std::sync::Arc;

use lopdf::encryption::crypt_filters::{Aes128CryptFilter, Aes256CryptFilter, CryptFilter};
use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions, StringFormat};

use super::{PdfError, Result, internal, invalid};

/// The encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Aes256,
    Aes128,
}

/// Permission names accepted in requests, with their flags.
pub const PERMISSIONS: [(&str, Permissions); 8] = [
    ("print", Permissions::PRINTABLE),
    ("modify", Permissions::MODIFIABLE),
    ("copy", Permissions::COPYABLE),
    ("annotate", Permissions::ANNOTABLE),
    ("fillForms", Permissions::FILLABLE),
    ("accessibility", Permissions::COPYABLE_FOR_ACCESSIBILITY),
    ("assemble", Permissions::ASSEMBLABLE),
    ("printHighQuality", Permissions::PRINTABLE_IN_HIGH_QUALITY),
];

/// What `encrypt` needs.
#[derive(Debug, Clone)]
pub struct Protection {
    pub user_password: String,
    /// Defaults to the user password when absent.
    pub owner_password: Option<String>,
    /// Permission names; `None` grants all.
    pub permissions: Option<Vec<String>>,
    pub algorithm: Algorithm,
}

fn permissions(names: Option<&[String]>) -> Result<Permissions> {
    let Some(names) = names else {
        return Ok(Permissions::all());
    };
    let mut granted = Permissions::empty();
    for name in names {
        let Some((_, flag)) = PERMISSIONS.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = PERMISSIONS.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                "permissions",
                format!("unknown permission `{name}`; use {}", known.join(", ")),
            ));
        };
        granted |= *flag;
    }
    Ok(granted)
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(internal)?;
    Ok(bytes)
}

/// Encrypts the document in place.
pub fn encrypt(document: &mut Document, protection: &Protection) -> Result<()> {
    if protection.user_password.chars().count() > 127
        || protection
            .owner_password
            .as_ref()
            .is_some_and(|p| p.chars().count() > 127)
    {
        return Err(invalid(
            "userPassword",
            "passwords are at most 127 characters",
        ));
    }
    let owner = protection
        .owner_password
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| protection.user_password.clone());
    if owner.is_empty() {
        return Err(invalid("ownerPassword", "give a user or an owner password"));
    }
    let permissions = permissions(protection.permissions.as_deref())?;
    if !document.trailer.has(b"ID") {
        let id = Object::String(random::<16>()?.to_vec(), StringFormat::Hexadecimal);
        document.trailer.set("ID", vec![id.clone(), id]);
    }
    let key = random::<32>()?;
    let version = match protection.algorithm {
        Algorithm::Aes256 => {
            let filter: Arc<dyn CryptFilter> = Arc::new(Aes256CryptFilter);
            EncryptionVersion::V5 {
                encrypt_metadata: true,
                crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), filter)]),
                file_encryption_key: &key,
                stream_filter: b"StdCF".to_vec(),
                string_filter: b"StdCF".to_vec(),
                owner_password: &owner,
                user_password: &protection.user_password,
                permissions,
            }
        }
        Algorithm::Aes128 => {
            let filter: Arc<dyn CryptFilter> = Arc::new(Aes128CryptFilter);
            EncryptionVersion::V4 {
                document: &*document,
                encrypt_metadata: true,
                crypt_filters: BTreeMap::from([(b"StdCF".to_vec(), filter)]),
                stream_filter: b"StdCF".to_vec(),
                string_filter: b"StdCF".to_vec(),
                owner_password: &owner,
                user_password: &protection.user_password,
                permissions,
            }
        }
    };
    let state = EncryptionState::try_from(version).map_err(internal)?;
    document.encrypt(&state).map_err(|e| match e {
        lopdf::Error::AlreadyEncrypted => PdfError::Invalid {
            field: "file".into(),
            message: "the document is already encrypted".into(),
        },
        other => internal(other),
    })
}

/// The permission names a document grants (all of them when it is not encrypted).
pub fn granted(document: &Document) -> Vec<&'static str> {
    let flags = document
        .encryption_state
        .as_ref()
        .map_or(Permissions::all(), EncryptionState::permissions);
    PERMISSIONS
        .iter()
        .filter(|(_, f)| flags.contains(*f))
        .map(|(n, _)| *n)
        .collect()
}
