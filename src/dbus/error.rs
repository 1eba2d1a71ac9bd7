use crate::model;

/// berth's errors on the bus: `org.berth.Berth1.Error.<Name>`.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.berth.Berth1.Error")]
pub enum BusError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSuchContainer(String),
    ContainerExists(String),
    InvalidState(String),
    AlreadyStopped(String),
    Removed(String),
    InvalidArgument(String),
    DependencyNotRunning(String),
    Canceled(String),
    Timeout(String),
    NotImplemented(String),
    Runtime(String),
    Systemd(String),
    Internal(String),
}

impl From<model::Error> for BusError {
    fn from(e: model::Error) -> Self {
        let m = e.to_string();
        match e {
            model::Error::NoSuchContainer(_) => BusError::NoSuchContainer(m),
            model::Error::ContainerExists(_) => BusError::ContainerExists(m),
            model::Error::InvalidState(_) => BusError::InvalidState(m),
            model::Error::AlreadyStopped(_) => BusError::AlreadyStopped(m),
            model::Error::Removed(_) => BusError::Removed(m),
            model::Error::InvalidArgument { .. } => BusError::InvalidArgument(m),
            model::Error::DependencyNotRunning(_) => BusError::DependencyNotRunning(m),
            model::Error::Canceled(_) => BusError::Canceled(m),
            model::Error::Timeout(_) => BusError::Timeout(m),
            model::Error::NotImplemented(_) => BusError::NotImplemented(m),
            model::Error::Runtime(_) => BusError::Runtime(m),
            model::Error::Systemd(_) => BusError::Systemd(m),
            model::Error::Internal(_) => BusError::Internal(m),
        }
    }
}

pub type BusResult<T> = Result<T, BusError>;
