-- Code guessing is counted per account identifier (an email address or a phone number), across every code
-- sent to it, so asking for a new code does not restart the count. After AUTH_OTP_MAX_ATTEMPTS wrong
-- guesses within AUTH_OTP_LOCKOUT_WINDOW the identifier is locked: no code is sent or accepted for it until
-- `locked_until`. Unknown identifiers are counted too, so a lockout says nothing about whether an account
-- exists.
create table if not exists auth.code_guards (
  identifier text not null constraint code_guards_pkey primary key,
  window_started_at timestamptz not null,
  failures integer not null default 0,
  locked_until timestamptz
);
comment on table auth.code_guards is 'Wrong one-time-code guesses per email address or phone number.';

-- The link that undoes an email change, mailed to the old address.
alter table auth.one_time_codes drop constraint if exists one_time_codes_kind_check;
alter table auth.one_time_codes add constraint one_time_codes_kind_check check (kind in (
  'verifyEmail', 'passwordReset', 'emailConfirmChange', 'emailRevertChange', 'passwordlessEmail', 'emailOtp', 'smsOtp'
));
