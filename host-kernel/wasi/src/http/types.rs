//! `wasi:http/types`: the resources of requests and responses and their host functions, with
//! wasmtime-wasi-http 48's behaviour (its p2 `types_impl.rs`): which calls succeed once, which
//! values are refused, what is immutable.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, subscribe};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::bindings::wasi::http::types::{
    self, Duration, ErrorCode, HeaderError, HostFields, HostFutureIncomingResponse, HostFutureTrailers,
    HostIncomingBody, HostIncomingRequest, HostIncomingResponse, HostOutgoingBody, HostOutgoingRequest,
    HostOutgoingResponse, HostRequestOptions, HostResponseOutparam, Method, Scheme, StatusCode,
};
use super::body::{FutureTrailers, IncomingBody, OutgoingBody};
use super::exchange::{Answer, SharedBody, SharedExchange, WrittenBody};
use super::fields::{Fields, FieldsError};
use super::outgoing::FutureIncomingResponse;
use crate::ctx::WasiHostCtxView;

/// `incoming-request`: the request being handled, as the server parsed it.
pub struct IncomingRequest {
    pub(crate) method: Method,
    pub(crate) path_with_query: String,
    pub(crate) authority: String,
    pub(crate) headers: Fields,
    pub(crate) body: Option<IncomingBody>,
}

/// `response-outparam`: where the handler's response goes, once.
pub struct ResponseOutparam {
    pub(crate) exchange: SharedExchange,
}

/// `outgoing-response`: a response the handler builds.
pub struct OutgoingResponse {
    status: u16,
    headers: Fields,
    /// Created by the first `body` call.
    body: Option<SharedBody>,
}

/// `outgoing-request`: a request the handler builds (for `outgoing-handler`).
pub struct OutgoingRequest {
    pub(crate) method: Method,
    pub(crate) path_with_query: Option<String>,
    pub(crate) scheme: Option<Scheme>,
    pub(crate) authority: Option<String>,
    pub(crate) headers: Fields,
    pub(crate) body: Option<SharedBody>,
}

/// `request-options`: timeouts for an outgoing request, in nanoseconds.
#[derive(Default)]
pub struct RequestOptions {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) first_byte_timeout: Option<Duration>,
    pub(crate) between_bytes_timeout: Option<Duration>,
}

/// `incoming-response`: the response to a request `outgoing-handler` sent.
pub struct IncomingResponse {
    pub(crate) status: u16,
    pub(crate) headers: Fields,
    pub(crate) body: Option<IncomingBody>,
}

impl types::Host for WasiHostCtxView<'_> {
    fn http_error_code(&mut self, error: Resource<types::IoError>) -> wasmtime::Result<Option<ErrorCode>> {
        let error = self.table.get(&error)?;
        Ok(error.downcast_ref::<ErrorCode>().cloned())
    }
}

/// A change to fields: the guest's error, or a trap for a map grown beyond its limit.
fn fields_result(result: Result<(), FieldsError>) -> wasmtime::Result<Result<(), HeaderError>> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(FieldsError::Guest(error)) => Ok(Err(error)),
        Err(FieldsError::TooLarge) => Err(wasmtime::format_err!("total size of fields exceeds limit")),
    }
}

impl HostFields for WasiHostCtxView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<Fields>> {
        Ok(self.table.push(Fields::new_mutable())?)
    }

    fn from_list(
        &mut self,
        entries: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<Resource<Fields>, HeaderError>> {
        let mut fields = Fields::new_mutable();
        for (name, value) in entries {
            if let Err(error) = fields_result(fields.append(&name, value))? {
                return Ok(Err(error));
            }
        }
        Ok(Ok(self.table.push(fields)?))
    }

    fn get(&mut self, fields: Resource<Fields>, name: String) -> wasmtime::Result<Vec<Vec<u8>>> {
        Ok(self.table.get(&fields)?.get(&name))
    }

    fn has(&mut self, fields: Resource<Fields>, name: String) -> wasmtime::Result<bool> {
        Ok(self.table.get(&fields)?.has(&name))
    }

    fn set(
        &mut self,
        fields: Resource<Fields>,
        name: String,
        values: Vec<Vec<u8>>,
    ) -> wasmtime::Result<Result<(), HeaderError>> {
        fields_result(self.table.get_mut(&fields)?.set(&name, values))
    }

    fn delete(&mut self, fields: Resource<Fields>, name: String) -> wasmtime::Result<Result<(), HeaderError>> {
        fields_result(self.table.get_mut(&fields)?.delete(&name))
    }

    fn append(
        &mut self,
        fields: Resource<Fields>,
        name: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), HeaderError>> {
        fields_result(self.table.get_mut(&fields)?.append(&name, value))
    }

    fn entries(&mut self, fields: Resource<Fields>) -> wasmtime::Result<Vec<(String, Vec<u8>)>> {
        Ok(self.table.get(&fields)?.entries().map(|(n, v)| (n.to_string(), v.to_vec())).collect())
    }

    fn clone(&mut self, fields: Resource<Fields>) -> wasmtime::Result<Resource<Fields>> {
        let copy = self.table.get(&fields)?.thawed_copy();
        Ok(self.table.push(copy)?)
    }

    fn drop(&mut self, fields: Resource<Fields>) -> wasmtime::Result<()> {
        self.table.delete(fields)?;
        Ok(())
    }
}

impl HostIncomingRequest for WasiHostCtxView<'_> {
    fn method(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Method> {
        Ok(self.table.get(&request)?.method.clone())
    }

    fn path_with_query(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Option<String>> {
        Ok(Some(self.table.get(&request)?.path_with_query.clone()))
    }

    fn scheme(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Option<Scheme>> {
        self.table.get(&request)?;
        Ok(Some(Scheme::Http))
    }

    fn authority(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Option<String>> {
        Ok(Some(self.table.get(&request)?.authority.clone()))
    }

    fn headers(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Resource<Fields>> {
        let headers = self.table.get(&request)?.headers.clone();
        Ok(self.table.push(headers)?)
    }

    fn consume(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
        match self.table.get_mut(&request)?.body.take() {
            Some(body) => Ok(Ok(self.table.push(body)?)),
            None => Ok(Err(())),
        }
    }

    fn drop(&mut self, request: Resource<IncomingRequest>) -> wasmtime::Result<()> {
        self.table.delete(request)?;
        Ok(())
    }
}

impl HostIncomingBody for WasiHostCtxView<'_> {
    fn stream(&mut self, body: Resource<IncomingBody>) -> wasmtime::Result<Result<Resource<DynInputStream>, ()>> {
        match self.table.get_mut(&body)?.take_stream() {
            Some(reader) => {
                let stream: DynInputStream = alloc::boxed::Box::new(reader);
                Ok(Ok(self.table.push_child(stream, &body)?))
            }
            None => Ok(Err(())),
        }
    }

    fn finish(&mut self, body: Resource<IncomingBody>) -> wasmtime::Result<Resource<FutureTrailers>> {
        let body = self.table.delete(body)?;
        Ok(self.table.push(body.into_trailers())?)
    }

    fn drop(&mut self, body: Resource<IncomingBody>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        Ok(())
    }
}

impl HostFutureTrailers for WasiHostCtxView<'_> {
    fn subscribe(&mut self, trailers: Resource<FutureTrailers>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, trailers)
    }

    fn get(
        &mut self,
        trailers: Resource<FutureTrailers>,
    ) -> wasmtime::Result<Option<Result<Result<Option<Resource<Fields>>, ErrorCode>, ()>>> {
        match self.table.get_mut(&trailers)?.get() {
            Some(Ok(Ok(Some(fields)))) => Ok(Some(Ok(Ok(Some(self.table.push(fields)?))))),
            Some(Ok(Ok(None))) => Ok(Some(Ok(Ok(None)))),
            Some(Ok(Err(code))) => Ok(Some(Ok(Err(code)))),
            Some(Err(())) => Ok(Some(Err(()))),
            None => Ok(None),
        }
    }

    fn drop(&mut self, trailers: Resource<FutureTrailers>) -> wasmtime::Result<()> {
        self.table.delete(trailers)?;
        Ok(())
    }
}

impl HostOutgoingResponse for WasiHostCtxView<'_> {
    fn new(&mut self, headers: Resource<Fields>) -> wasmtime::Result<Resource<OutgoingResponse>> {
        let mut headers = self.table.delete(headers)?;
        headers.freeze();
        Ok(self.table.push(OutgoingResponse { status: 200, headers, body: None })?)
    }

    fn status_code(&mut self, response: Resource<OutgoingResponse>) -> wasmtime::Result<StatusCode> {
        Ok(self.table.get(&response)?.status)
    }

    fn set_status_code(
        &mut self,
        response: Resource<OutgoingResponse>,
        status: StatusCode,
    ) -> wasmtime::Result<Result<(), ()>> {
        let response = self.table.get_mut(&response)?;
        // `http::StatusCode::from_u16`'s range.
        if !(100..=999).contains(&status) {
            return Ok(Err(()));
        }
        response.status = status;
        Ok(Ok(()))
    }

    fn headers(&mut self, response: Resource<OutgoingResponse>) -> wasmtime::Result<Resource<Fields>> {
        let headers = self.table.get(&response)?.headers.clone();
        Ok(self.table.push(headers)?)
    }

    fn body(&mut self, response: Resource<OutgoingResponse>) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
        let response = self.table.get_mut(&response)?;
        let Some(body) = new_body(&mut response.body, &response.headers, false) else { return Ok(Err(())) };
        Ok(Ok(self.table.push(OutgoingBody::new(body))?))
    }

    fn drop(&mut self, response: Resource<OutgoingResponse>) -> wasmtime::Result<()> {
        self.table.delete(response)?;
        Ok(())
    }
}

/// The body of a response or request, the first time it is asked for: `None` if it was asked
/// for before or the `Content-Length` is not a single number.
fn new_body(slot: &mut Option<SharedBody>, headers: &Fields, of_request: bool) -> Option<SharedBody> {
    if slot.is_some() {
        return None;
    }
    let declared = headers.content_length().ok()?;
    let body = alloc::sync::Arc::new(spin::Mutex::new(WrittenBody::new(declared, of_request)));
    *slot = Some(body.clone());
    Some(body)
}

impl HostOutgoingBody for WasiHostCtxView<'_> {
    fn write(&mut self, body: Resource<OutgoingBody>) -> wasmtime::Result<Result<Resource<DynOutputStream>, ()>> {
        match self.table.get_mut(&body)?.take_stream() {
            Some(writer) => {
                let stream: DynOutputStream = alloc::boxed::Box::new(writer);
                Ok(Ok(self.table.push_child(stream, &body)?))
            }
            None => Ok(Err(())),
        }
    }

    fn finish(
        &mut self,
        body: Resource<OutgoingBody>,
        trailers: Option<Resource<Fields>>,
    ) -> wasmtime::Result<Result<(), ErrorCode>> {
        let body = self.table.delete(body)?;
        let trailers = match trailers {
            Some(trailers) => Some(self.table.delete(trailers)?),
            None => None,
        };
        Ok(body.finish(trailers))
    }

    fn drop(&mut self, body: Resource<OutgoingBody>) -> wasmtime::Result<()> {
        self.table.delete(body)?;
        Ok(())
    }
}

impl HostResponseOutparam for WasiHostCtxView<'_> {
    fn send_informational(
        &mut self,
        _param: Resource<ResponseOutparam>,
        _status: u16,
        _headers: Resource<Fields>,
    ) -> wasmtime::Result<Result<(), ErrorCode>> {
        Err(wasmtime::format_err!("not implemented"))
    }

    fn set(
        &mut self,
        param: Resource<ResponseOutparam>,
        response: Result<Resource<OutgoingResponse>, ErrorCode>,
    ) -> wasmtime::Result<()> {
        let response = match response {
            Ok(response) => Ok(self.table.delete(response)?),
            Err(code) => Err(code),
        };
        let param = self.table.delete(param)?;
        let response = match response {
            Ok(response) => response,
            Err(code) => {
                param.exchange.lock().answer = Answer::Refused(code);
                return Ok(());
            }
        };
        let headers: Vec<(String, Vec<u8>)> =
            response.headers.entries().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        // A declared length the body is held to; a response without a body resource has an
        // empty one.
        let declared = response.headers.content_length().ok().flatten();
        let body = response.body;
        let length = match &body {
            Some(body) => body.lock().declared,
            None => Some(declared.unwrap_or(0)),
        };
        {
            let mut exchange = param.exchange.lock();
            let now = exchange.now();
            let _ = exchange.conn.respond_head(now, response.status, &headers, length);
            exchange.answer = Answer::Responding(body.clone());
            if body.is_none() {
                let _ = exchange.conn.finish_body(now);
            }
            exchange.pump();
        }
        if let Some(body) = body {
            let mut body = body.lock();
            body.sink = Some(param.exchange.clone());
            body.flush();
        }
        Ok(())
    }

    fn drop(&mut self, param: Resource<ResponseOutparam>) -> wasmtime::Result<()> {
        self.table.delete(param)?;
        Ok(())
    }
}

impl HostOutgoingRequest for WasiHostCtxView<'_> {
    fn new(&mut self, headers: Resource<Fields>) -> wasmtime::Result<Resource<OutgoingRequest>> {
        let mut headers = self.table.delete(headers)?;
        headers.freeze();
        Ok(self.table.push(OutgoingRequest {
            method: Method::Get,
            path_with_query: None,
            scheme: None,
            authority: None,
            headers,
            body: None,
        })?)
    }

    fn body(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Result<Resource<OutgoingBody>, ()>> {
        let request = self.table.get_mut(&request)?;
        let Some(body) = new_body(&mut request.body, &request.headers, true) else { return Ok(Err(())) };
        Ok(Ok(self.table.push(OutgoingBody::new(body))?))
    }

    fn method(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Method> {
        Ok(self.table.get(&request)?.method.clone())
    }

    fn set_method(&mut self, request: Resource<OutgoingRequest>, method: Method) -> wasmtime::Result<Result<(), ()>> {
        let request = self.table.get_mut(&request)?;
        if let Method::Other(name) = &method
            && !is_token(name)
        {
            return Ok(Err(()));
        }
        request.method = method;
        Ok(Ok(()))
    }

    fn path_with_query(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&request)?.path_with_query.clone())
    }

    fn set_path_with_query(
        &mut self,
        request: Resource<OutgoingRequest>,
        path: Option<String>,
    ) -> wasmtime::Result<Result<(), ()>> {
        let request = self.table.get_mut(&request)?;
        if path.as_deref().is_some_and(|p| !is_path_with_query(p)) {
            return Ok(Err(()));
        }
        request.path_with_query = path;
        Ok(Ok(()))
    }

    fn scheme(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Option<Scheme>> {
        Ok(self.table.get(&request)?.scheme.clone())
    }

    fn set_scheme(
        &mut self,
        request: Resource<OutgoingRequest>,
        scheme: Option<Scheme>,
    ) -> wasmtime::Result<Result<(), ()>> {
        let request = self.table.get_mut(&request)?;
        if let Some(Scheme::Other(name)) = &scheme
            && !is_scheme(name)
        {
            return Ok(Err(()));
        }
        request.scheme = scheme;
        Ok(Ok(()))
    }

    fn authority(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&request)?.authority.clone())
    }

    fn set_authority(
        &mut self,
        request: Resource<OutgoingRequest>,
        authority: Option<String>,
    ) -> wasmtime::Result<Result<(), ()>> {
        let request = self.table.get_mut(&request)?;
        if authority.as_deref().is_some_and(|a| !is_authority(a)) {
            return Ok(Err(()));
        }
        request.authority = authority;
        Ok(Ok(()))
    }

    fn headers(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<Resource<Fields>> {
        let headers = self.table.get(&request)?.headers.clone();
        Ok(self.table.push(headers)?)
    }

    fn drop(&mut self, request: Resource<OutgoingRequest>) -> wasmtime::Result<()> {
        self.table.delete(request)?;
        Ok(())
    }
}

impl HostRequestOptions for WasiHostCtxView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        Ok(self.table.push(RequestOptions::default())?)
    }

    fn connect_timeout(&mut self, options: Resource<RequestOptions>) -> wasmtime::Result<Option<Duration>> {
        Ok(self.table.get(&options)?.connect_timeout)
    }

    fn set_connect_timeout(
        &mut self,
        options: Resource<RequestOptions>,
        duration: Option<Duration>,
    ) -> wasmtime::Result<Result<(), ()>> {
        self.table.get_mut(&options)?.connect_timeout = duration;
        Ok(Ok(()))
    }

    fn first_byte_timeout(&mut self, options: Resource<RequestOptions>) -> wasmtime::Result<Option<Duration>> {
        Ok(self.table.get(&options)?.first_byte_timeout)
    }

    fn set_first_byte_timeout(
        &mut self,
        options: Resource<RequestOptions>,
        duration: Option<Duration>,
    ) -> wasmtime::Result<Result<(), ()>> {
        self.table.get_mut(&options)?.first_byte_timeout = duration;
        Ok(Ok(()))
    }

    fn between_bytes_timeout(&mut self, options: Resource<RequestOptions>) -> wasmtime::Result<Option<Duration>> {
        Ok(self.table.get(&options)?.between_bytes_timeout)
    }

    fn set_between_bytes_timeout(
        &mut self,
        options: Resource<RequestOptions>,
        duration: Option<Duration>,
    ) -> wasmtime::Result<Result<(), ()>> {
        self.table.get_mut(&options)?.between_bytes_timeout = duration;
        Ok(Ok(()))
    }

    fn drop(&mut self, options: Resource<RequestOptions>) -> wasmtime::Result<()> {
        self.table.delete(options)?;
        Ok(())
    }
}

impl HostIncomingResponse for WasiHostCtxView<'_> {
    fn status(&mut self, response: Resource<IncomingResponse>) -> wasmtime::Result<StatusCode> {
        Ok(self.table.get(&response)?.status)
    }

    fn headers(&mut self, response: Resource<IncomingResponse>) -> wasmtime::Result<Resource<Fields>> {
        let headers = self.table.get(&response)?.headers.clone();
        Ok(self.table.push(headers)?)
    }

    fn consume(
        &mut self,
        response: Resource<IncomingResponse>,
    ) -> wasmtime::Result<Result<Resource<IncomingBody>, ()>> {
        match self.table.get_mut(&response)?.body.take() {
            Some(body) => Ok(Ok(self.table.push(body)?)),
            None => Ok(Err(())),
        }
    }

    fn drop(&mut self, response: Resource<IncomingResponse>) -> wasmtime::Result<()> {
        self.table.delete(response)?;
        Ok(())
    }
}

impl HostFutureIncomingResponse for WasiHostCtxView<'_> {
    fn subscribe(&mut self, response: Resource<FutureIncomingResponse>) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table, response)
    }

    fn get(
        &mut self,
        response: Resource<FutureIncomingResponse>,
    ) -> wasmtime::Result<Option<Result<Result<Resource<IncomingResponse>, ErrorCode>, ()>>> {
        match self.table.get_mut(&response)?.take() {
            Some(Ok(Ok(response))) => Ok(Some(Ok(Ok(self.table.push(response)?)))),
            Some(Ok(Err(code))) => Ok(Some(Ok(Err(code)))),
            Some(Err(())) => Ok(Some(Err(()))),
            None => Ok(None),
        }
    }

    fn drop(&mut self, response: Resource<FutureIncomingResponse>) -> wasmtime::Result<()> {
        self.table.delete(response)?;
        Ok(())
    }
}

/// A method name as `http::Method` accepts it: a token.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// As `http::uri::Scheme`: a letter, then letters, digits, `+`, `-` and `.`, at most 64.
fn is_scheme(name: &str) -> bool {
    name.len() <= 64
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// Empty, or starting with `/` or `?`, in URI characters (wasmtime-wasi-http's
/// `parse_path_with_query`).
fn is_path_with_query(path: &str) -> bool {
    (path.is_empty() || path.starts_with('/') || path.starts_with('?')) && path.bytes().all(is_uri_byte)
}

/// A non-empty `host[:port]` (with `userinfo@` or an IPv6 literal) in URI characters.
fn is_authority(authority: &str) -> bool {
    !authority.is_empty() && authority.bytes().all(|b| is_uri_byte(b) && !b"/?#".contains(&b))
}

fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b)
}
