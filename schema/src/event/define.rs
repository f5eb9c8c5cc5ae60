//! The macro that turns the kind descriptions in `kinds.rs` into types and code.
//!
//! From one block per data struct and one line per kind it generates: the structs (serde
//! derives, so a struct's fields are encoded in the order they are listed), their
//! [`Fields`](super::Fields) implementations (descriptions, visitor, string mapping,
//! generation), the [`Kind`](super::Kind) enum with its pinned numbers, names, families and
//! explanations, and [`EventData`](super::EventData) with an encoding that writes a kind's
//! number, never its position in the list.

macro_rules! event_model {
    (
        structs {
            $(
                $(#[$smeta:meta])*
                $sname:ident $(<$sg:ident>)? {
                    $( $(#[$fmeta:meta])* $fname:ident : $fclass:ident => $fdecode:expr ),* $(,)?
                }
            )*
        }
        kinds {
            $(
                $(#[$kmeta:meta])*
                $num:literal $variant:ident = $kname:literal, $family:ident, $result:ident,
                $data:ty, $about:literal $(, summary $summary:literal)? ;
            )*
        }
    ) => {
        $(
            $crate::event::define::data_struct!(
                @munch [$(#[$smeta])*] $sname [$(<$sg = Str>)?] {}
                $( $(#[$fmeta])* $fname : $fclass => $fdecode, )*
            );

            impl<S> Fields<S> for $sname $(<$sg>)? {
                const FIELDS: &'static [FieldDesc] = &[
                    $( FieldDesc {
                        name: stringify!($fname),
                        class: field_class!($fclass),
                        decode: $fdecode,
                    }, )*
                ];
                type Mapped<T> = mapped_ty!($sname $(<$sg>)?);

                #[allow(unused_variables, unused_mut, reason = "kinds without fields")]
                fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static FieldDesc, FieldRef<'a, S>)) {
                    let mut descs = <Self as Fields<S>>::FIELDS.iter();
                    $(
                        if let Some(d) = descs.next() {
                            f(d, field_ref!($fclass, self.$fname));
                        }
                    )*
                }

                #[allow(unused_variables, reason = "kinds without strings")]
                fn map_strings<T, E>(
                    &self,
                    f: &mut dyn FnMut(&S) -> Result<T, E>,
                ) -> Result<Self::Mapped<T>, E> {
                    Ok($sname { $( $fname: map_field!($fclass, self.$fname, f), )* })
                }

                #[allow(unused_variables, unused_mut, reason = "kinds without fields")]
                fn generate(g: &mut dyn FieldSource) -> Self
                where
                    S: From<String>,
                {
                    let mut descs = <Self as Fields<S>>::FIELDS.iter();
                    $(
                        let d = descs.next().unwrap_or(&NO_FIELD);
                        let $fname = generate_field!($fclass, g, d);
                    )*
                    $sname { $( $fname, )* }
                }
            }
        )*

        /// The kind of an event: the snake_case name of the syscall or tracepoint it came
        /// from. Its number is pinned: it is the wire tag of the event's data and its bit in
        /// chunk kind masks, and never changes (see `kinds.rs`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[repr(u8)]
        pub enum Kind { $( $(#[$kmeta])* $variant = $num, )* }

        impl Kind {
            /// Every kind, in the order of the description.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The public name (`kind` in JSONL, in the `kind_counts` table, in filters).
            pub const fn name(self) -> &'static str {
                match self { $(Kind::$variant => $kname,)* }
            }

            pub const fn family(self) -> Family {
                match self { $(Kind::$variant => Family::$family,)* }
            }

            /// One line on what this call does when a container is made.
            pub const fn about(self) -> &'static str {
                match self { $(Kind::$variant => $about,)* }
            }

            /// Whether events of this kind come from a syscall and carry its result.
            pub const fn has_result(self) -> bool {
                match self { $(Kind::$variant => $crate::event::define::has_result!($result),)* }
            }

            /// A one-line summary with `{field}` placeholders, for kinds that have one.
            pub const fn summary_template(self) -> Option<&'static str> {
                match self { $(Kind::$variant => $crate::event::define::template!($($summary)?),)* }
            }

            /// The descriptions of this kind's fields, in order.
            pub fn fields(self) -> &'static [FieldDesc] {
                EventData::<Str>::field_descs(self)
            }

            /// The kind whose number is `number`.
            pub const fn from_number(number: u32) -> Option<Kind> {
                match number { $($num => Some(Kind::$variant),)* _ => None }
            }
        }

        /// What happened, with the fields of its kind (one data struct per kind, the large
        /// ones boxed to keep the enum small).
        ///
        /// Generic over the string type so that the chunk encoder can store strings as
        /// indexes into a per-chunk table; everyone else uses the default, [`Str`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum EventData<S = Str> {
            $( $(#[$kmeta])* $variant($data), )*
        }

        impl<S> EventData<S> {
            fn field_descs(kind: Kind) -> &'static [FieldDesc] {
                match kind { $(Kind::$variant => <$data as Fields<S>>::FIELDS,)* }
            }

            pub fn kind(&self) -> Kind {
                match self { $(Self::$variant(_) => Kind::$variant,)* }
            }

            /// Calls `f` on every field of the event's data, in the order of its description.
            pub fn visit_fields<'a>(
                &'a self,
                f: &mut dyn FnMut(&'static FieldDesc, FieldRef<'a, S>),
            ) {
                match self { $(Self::$variant(a) => Fields::<S>::visit(a, f),)* }
            }

            /// The same event with every string passed through `f` (used to intern strings
            /// into a chunk's table, and to resolve them back). Stops at the first error.
            pub fn try_map_strings<T, E>(
                &self,
                f: &mut impl FnMut(&S) -> Result<T, E>,
            ) -> Result<EventData<T>, E> {
                let f: &mut dyn FnMut(&S) -> Result<T, E> = f;
                Ok(match self {
                    $(Self::$variant(a) => EventData::$variant(Fields::<S>::map_strings(a, f)?),)*
                })
            }

            /// Data of `kind` made field by field from `g`.
            pub fn generate(kind: Kind, g: &mut dyn FieldSource) -> Self
            where
                S: From<String>,
            {
                match kind {
                    $(Kind::$variant => Self::$variant(<$data as Fields<S>>::generate(g)),)*
                }
            }
        }

        impl<S: Serialize> Serialize for EventData<S> {
            fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
                match self {
                    $(Self::$variant(a) => s.serialize_newtype_variant("EventData", $num, $kname, a),)*
                }
            }
        }

        impl<'de, S: Deserialize<'de>> Deserialize<'de> for EventData<S> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<S>(std::marker::PhantomData<S>);
                impl<'de, S: Deserialize<'de>> serde::de::Visitor<'de> for V<S> {
                    type Value = EventData<S>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("the data of an event")
                    }
                    fn visit_enum<A: serde::de::EnumAccess<'de>>(
                        self,
                        data: A,
                    ) -> Result<Self::Value, A::Error> {
                        use serde::de::VariantAccess as _;
                        let (tag, variant) = data.variant_seed(wire::TagSeed)?;
                        match tag {
                            $($num => variant.newtype_variant::<$data>().map(EventData::$variant),)*
                            other => Err(serde::de::Error::custom(format_args!(
                                "unknown event kind number {other}"
                            ))),
                        }
                    }
                }
                d.deserialize_enum("EventData", KIND_NAMES, V(std::marker::PhantomData))
            }
        }

        /// Kind names in description order (what serde formats with names are told).
        const KIND_NAMES: &[&str] = &[$($kname,)*];
    };
}

/// A data struct with its fields' classes turned into types (derives cannot see through
/// type macros, so the types are written out field by field before the struct is).
macro_rules! data_struct {
    (@munch [$($meta:tt)*] $name:ident [$($g:tt)*] { $($done:tt)* }) => {
        $($meta)*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name $($g)* { $($done)* }
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : u8 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: u8, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : u16 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: u16, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : u32 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: u32, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : u64 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: u64, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : i32 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: i32, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : i64 => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: i64, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : str => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: S, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : opt_str => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: Option<S>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : strs => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: Vec<S>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : u32s => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: Vec<u32>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : bytes => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: Vec<u8>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : ip => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: IpAddr, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : addr => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: SockAddr<S>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : pairs => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: Vec<(S, S)>, } $($rest)*
        );
    };
    (@munch $meta:tt $name:ident $g:tt { $($done:tt)* }
        $(#[$fm:meta])* $f:ident : loss => $d:expr, $($rest:tt)*) => {
        $crate::event::define::data_struct!(
            @munch $meta $name $g { $($done)* $(#[$fm])* pub $f: LossSource, } $($rest)*
        );
    };
}

macro_rules! has_result {
    (result) => {
        true
    };
    (no_result) => {
        false
    };
}

macro_rules! template {
    () => {
        None
    };
    ($s:literal) => {
        Some($s)
    };
}

pub(crate) use {data_struct, event_model, has_result, template};
