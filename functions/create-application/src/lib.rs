//! `POST /api/v1/applications`

use appkeys::domain::application::{Application, NewApplication};
use appkeys::domain::{Error, Refusal, Timestamp};
use appkeys::http::body::{self, Body};
use appkeys::http::idempotent::{self, Answer, Post};
use appkeys::http::Call;
use appkeys::lambda::State;
use appkeys::store::{Caller, Recorder, Written};
use lambda_http::{Request, Response};

struct CreateApplication<'a>(&'a State);

impl Post for CreateApplication<'_> {
    type Input = NewApplication;
    type Output = Application;

    fn parse(
        &self,
        _: &Call<'_>,
        body: &mut Body<'_>,
        _: Timestamp,
    ) -> Result<NewApplication, Refusal> {
        body::new_application(body.object()?)
    }

    async fn write(
        &self,
        caller: &Caller<'_>,
        new: NewApplication,
        record: Option<&dyn Recorder<Application>>,
    ) -> Result<Written<Application>, Error> {
        self.0.store.create_application(caller, new, record).await
    }

    fn answer(&self, application: &Application) -> Answer<'_> {
        Answer::created(application).at(application.location())
    }
}

pub async fn handler(
    state: &State,
    request: Request,
) -> Result<Response<lambda_http::Body>, lambda_http::Error> {
    idempotent::post(&request, state, &CreateApplication(state)).await
}
