import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "./Authentication.js"
import { NotFound } from "./Errors.js"
import { InvalidCursor } from "./HttpErrors.js"
import { PatientId } from "./Ids.js"
import { docs } from "./OpenApiDocs.js"
import { Page, PageParams } from "./Pagination.js"
import { Patient, PatientName } from "./Patient.js"
import { EmailInput } from "./User.js"

const PatientEmail = Schema.NullOr(EmailInput)
const PatientPhone = Schema.NullOr(
  Schema.Trim.pipe(Schema.pattern(/^[0-9+()\-.\s]{3,40}$/, { message: () => "Expected a phone number" }))
)
const PatientNotes = Schema.NullOr(Schema.String.pipe(Schema.maxLength(10_000)))

export class CreatePatient extends Schema.Class<CreatePatient>("CreatePatient")({
  name: PatientName,
  email: Schema.optional(PatientEmail),
  phone: Schema.optional(PatientPhone),
  notes: Schema.optional(PatientNotes)
}) {}

/** Only the fields present change; `null` clears an optional field. */
export class UpdatePatient extends Schema.Class<UpdatePatient>("UpdatePatient")({
  name: Schema.optional(PatientName),
  email: Schema.optional(PatientEmail),
  phone: Schema.optional(PatientPhone),
  notes: Schema.optional(PatientNotes)
}) {}

export const PatientPage = Page(Patient, "PatientPage")

/**
 * A therapist's own patients. Another therapist's patient answers 404, exactly like a missing one,
 * so that ids cannot be probed. Admins get no wider view here: they operate the practice and are
 * not anyone's clinician, so they see only patients they created themselves.
 */
export class PatientsApi extends HttpApiGroup.make("patients")
  .add(
    HttpApiEndpoint.post("create", "/patients").annotateContext(
      docs("Add a patient", "Creates a patient of the signed-in therapist; the email is stored lower-cased.")
    )
      .setPayload(CreatePatient)
      .addSuccess(Patient, { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("list", "/patients").annotateContext(
      docs(
        "List patients",
        "The signed-in therapist's patients, keyset-paginated: `limit` 1..100 (default 20), then `cursor` = the previous page's `nextCursor` (a cursor this server did not issue is a 400)."
      )
    )
      .setUrlParams(Schema.Struct(PageParams))
      .addSuccess(PatientPage)
      .addError(InvalidCursor)
  )
  .add(
    HttpApiEndpoint.get("get", "/patients/:id").annotateContext(
      docs("Get a patient", "One of the signed-in therapist's patients; anyone else's is a 404, like a missing one.")
    )
      .setPath(Schema.Struct({ id: PatientId }))
      .addSuccess(Patient)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.patch("update", "/patients/:id").annotateContext(
      docs(
        "Update a patient",
        "Changes only the fields present; `null` clears an optional field. Another therapist's patient is a 404."
      )
    )
      .setPath(Schema.Struct({ id: PatientId }))
      .setPayload(UpdatePatient)
      .addSuccess(Patient)
      .addError(NotFound)
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Patients")
  .annotate(OpenApi.Description, "A therapist's own patients; anyone else's is a 404, like a missing one.")
{}
