//! Distribution name -> the top-level import names it installs, when no wheel of it is in the
//! build context: a table of the common distributions whose import name differs from their
//! name, else the PEP 503 name with `-` as `_`.

use crate::requirements::normalize;

/// `(normalised distribution name, import names)`. Dotted names are packages inside a
/// namespace directory (`google.protobuf` ships `google/` without `__init__.py`).
const TABLE: &[(&str, &[&str])] = &[
    ("pyyaml", &["yaml", "_yaml"]),
    ("pillow", &["PIL"]),
    ("beautifulsoup4", &["bs4"]),
    ("scikit-learn", &["sklearn"]),
    ("scikit-image", &["skimage"]),
    ("python-dateutil", &["dateutil"]),
    ("opencv-python", &["cv2"]),
    ("opencv-python-headless", &["cv2"]),
    ("opencv-contrib-python", &["cv2"]),
    ("opencv-contrib-python-headless", &["cv2"]),
    ("psycopg2-binary", &["psycopg2"]),
    ("psycopg-binary", &["psycopg_binary"]),
    ("protobuf", &["google.protobuf"]),
    (
        "googleapis-common-protos",
        &["google.api", "google.rpc", "google.type"],
    ),
    ("google-cloud-storage", &["google.cloud.storage"]),
    (
        "google-cloud-pubsub",
        &["google.cloud.pubsub", "google.cloud.pubsub_v1"],
    ),
    ("google-cloud-bigquery", &["google.cloud.bigquery"]),
    ("google-cloud-core", &["google.cloud.client"]),
    ("google-api-core", &["google.api_core"]),
    ("google-auth", &["google.auth", "google.oauth2"]),
    (
        "google-api-python-client",
        &["googleapiclient", "apiclient"],
    ),
    ("grpcio", &["grpc"]),
    ("grpcio-tools", &["grpc_tools"]),
    ("python-dotenv", &["dotenv"]),
    ("attrs", &["attr", "attrs"]),
    ("pyjwt", &["jwt"]),
    ("python-jose", &["jose"]),
    ("pymysql", &["pymysql"]),
    ("mysqlclient", &["MySQLdb"]),
    ("mysql-connector-python", &["mysql.connector"]),
    ("pycryptodome", &["Crypto"]),
    ("pycryptodomex", &["Cryptodome"]),
    ("pyopenssl", &["OpenSSL"]),
    ("python-multipart", &["multipart", "python_multipart"]),
    ("python-magic", &["magic"]),
    ("python-slugify", &["slugify"]),
    ("python-json-logger", &["pythonjsonlogger"]),
    ("python-socketio", &["socketio"]),
    ("python-engineio", &["engineio"]),
    ("python-telegram-bot", &["telegram"]),
    ("python-docx", &["docx"]),
    ("python-pptx", &["pptx"]),
    ("pyserial", &["serial"]),
    ("pyusb", &["usb"]),
    ("pygithub", &["github"]),
    ("gitpython", &["git"]),
    ("msgpack-python", &["msgpack"]),
    (
        "setuptools",
        &["setuptools", "pkg_resources", "_distutils_hack"],
    ),
    ("typing-extensions", &["typing_extensions"]),
    ("dnspython", &["dns"]),
    ("email-validator", &["email_validator"]),
    ("markdown", &["markdown"]),
    ("faiss-cpu", &["faiss"]),
    ("faiss-gpu", &["faiss"]),
    ("tensorflow-cpu", &["tensorflow"]),
    ("torch", &["torch"]),
    ("pytorch-lightning", &["pytorch_lightning"]),
    ("ruamel-yaml", &["ruamel.yaml"]),
    ("zope-interface", &["zope.interface"]),
    ("websocket-client", &["websocket"]),
    ("discord-py", &["discord"]),
    ("django-rest-framework", &["rest_framework"]),
    ("djangorestframework", &["rest_framework"]),
    ("django-cors-headers", &["corsheaders"]),
    ("django-environ", &["environ"]),
    ("django-filter", &["django_filters"]),
    ("django-redis", &["django_redis"]),
    (
        "djangorestframework-simplejwt",
        &["rest_framework_simplejwt"],
    ),
    ("flask-sqlalchemy", &["flask_sqlalchemy"]),
    ("flask-cors", &["flask_cors"]),
    ("flask-login", &["flask_login"]),
    ("flask-wtf", &["flask_wtf"]),
    ("sqlalchemy", &["sqlalchemy"]),
    ("apache-airflow", &["airflow"]),
    ("azure-storage-blob", &["azure.storage.blob"]),
    ("azure-identity", &["azure.identity"]),
    ("azure-core", &["azure.core"]),
    ("ipython", &["IPython"]),
    ("pywin32", &["win32api", "win32con", "pywintypes"]),
    ("six", &["six"]),
    ("lxml", &["lxml"]),
    ("uvicorn", &["uvicorn"]),
    ("pyzmq", &["zmq"]),
    ("pysocks", &["socks", "sockshandler"]),
    ("pynacl", &["nacl"]),
    ("pymongo", &["pymongo", "bson", "gridfs"]),
    ("paho-mqtt", &["paho.mqtt"]),
    ("prometheus-client", &["prometheus_client"]),
    ("opentelemetry-api", &["opentelemetry"]),
    ("opentelemetry-sdk", &["opentelemetry.sdk"]),
    ("sentry-sdk", &["sentry_sdk"]),
    ("pkginfo", &["pkginfo"]),
    ("levenshtein", &["Levenshtein"]),
    ("python-levenshtein", &["Levenshtein"]),
    ("pdfminer-six", &["pdfminer"]),
    ("pypdf2", &["PyPDF2"]),
    ("pymupdf", &["fitz", "pymupdf"]),
    ("docx2txt", &["docx2txt"]),
    ("tzdata", &["tzdata"]),
];

/// Console scripts of common distributions, for stand-ins (no wheel to read them from):
/// `(normalised distribution, script, module:function)`. Servers started by `CMD` are the point:
/// the entrypoint of a predicted image must be understood as in the built one.
const SCRIPTS: &[(&str, &str, &str)] = &[
    ("uvicorn", "uvicorn", "uvicorn.main:main"),
    ("gunicorn", "gunicorn", "gunicorn.app.wsgiapp:run"),
    ("hypercorn", "hypercorn", "hypercorn.__main__:main"),
    (
        "daphne",
        "daphne",
        "daphne.cli:CommandLineInterface.entrypoint",
    ),
    ("flask", "flask", "flask.cli:main"),
    ("celery", "celery", "celery.__main__:main"),
    (
        "django",
        "django-admin",
        "django.core.management:execute_from_command_line",
    ),
    ("streamlit", "streamlit", "streamlit.web.cli:main"),
    ("fastapi-cli", "fastapi", "fastapi_cli.cli:main"),
    ("waitress", "waitress-serve", "waitress.runner:run"),
];

/// The console scripts a stand-in of `dist` installs.
pub fn console_scripts(dist: &str) -> Vec<(&'static str, &'static str)> {
    let norm = normalize(dist);
    SCRIPTS
        .iter()
        .filter(|(d, _, _)| *d == norm)
        .map(|(_, s, t)| (*s, *t))
        .collect()
}

/// The top-level import names of a distribution (by its name as written anywhere).
pub fn import_names(dist: &str) -> Vec<String> {
    let norm = normalize(dist);
    match TABLE.iter().find(|(d, _)| *d == norm) {
        Some((_, names)) => names.iter().map(|n| n.to_string()).collect(),
        None => vec![norm.replace('-', "_")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_mismatches_map_to_their_import_names() {
        assert_eq!(import_names("PyYAML"), ["yaml", "_yaml"]);
        assert_eq!(import_names("Pillow"), ["PIL"]);
        assert_eq!(import_names("beautifulsoup4"), ["bs4"]);
        assert_eq!(import_names("scikit_learn"), ["sklearn"]);
        assert_eq!(import_names("opencv-python-headless"), ["cv2"]);
        assert_eq!(import_names("protobuf"), ["google.protobuf"]);
        assert_eq!(import_names("attrs"), ["attr", "attrs"]);
        assert_eq!(import_names("PyJWT"), ["jwt"]);
    }

    #[test]
    fn servers_get_their_console_scripts() {
        assert_eq!(
            console_scripts("Uvicorn"),
            [("uvicorn", "uvicorn.main:main")]
        );
        assert!(console_scripts("requests").is_empty());
    }

    #[test]
    fn other_names_use_the_normalised_name() {
        assert_eq!(import_names("Flask"), ["flask"]);
        assert_eq!(import_names("typing.extensions"), ["typing_extensions"]);
        assert_eq!(import_names("my-Package_x"), ["my_package_x"]);
    }

    #[test]
    fn the_table_is_keyed_by_normalised_names() {
        for (d, names) in TABLE {
            assert_eq!(normalize(d), *d);
            assert!(!names.is_empty());
        }
        assert!(TABLE.len() >= 60);
    }
}
