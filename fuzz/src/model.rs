//! The schema as the generator sees it: types, fields, arguments, input objects and enums,
//! read from the SDL the server itself prints (`profilegraph_schema::sdl()`), so the
//! grammar follows the schema without a hand-kept copy.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use async_graphql_parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

/// A reference to a type, as written in the SDL (`[ID!]!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A named type.
    Named { name: String, non_null: bool },
    /// A list of another type.
    List { of: Box<TypeRef>, non_null: bool },
}

impl TypeRef {
    fn from_parser(ty: &Type) -> Self {
        match &ty.base {
            BaseType::Named(name) => TypeRef::Named {
                name: name.to_string(),
                non_null: !ty.nullable,
            },
            BaseType::List(inner) => TypeRef::List {
                of: Box::new(TypeRef::from_parser(inner)),
                non_null: !ty.nullable,
            },
        }
    }

    /// Whether the type is non-null (`!`).
    pub fn non_null(&self) -> bool {
        match self {
            TypeRef::Named { non_null, .. } | TypeRef::List { non_null, .. } => *non_null,
        }
    }

    /// The innermost named type.
    pub fn named(&self) -> &str {
        match self {
            TypeRef::Named { name, .. } => name,
            TypeRef::List { of, .. } => of.named(),
        }
    }

    /// The type in SDL syntax, for variable definitions.
    pub fn render(&self) -> String {
        let (base, non_null) = match self {
            TypeRef::Named { name, non_null } => (name.clone(), *non_null),
            TypeRef::List { of, non_null } => (format!("[{}]", of.render()), *non_null),
        };
        if non_null { format!("{base}!") } else { base }
    }
}

/// An argument of a field, or a field of an input object.
#[derive(Debug, Clone)]
pub struct InputValue {
    pub name: String,
    pub ty: TypeRef,
    pub has_default: bool,
}

impl InputValue {
    /// Whether a valid document must give it.
    pub fn required(&self) -> bool {
        self.ty.non_null() && !self.has_default
    }
}

/// A field of an object or interface.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub args: Vec<InputValue>,
    pub ty: TypeRef,
}

/// What kind of type a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    Input,
}

/// The schema, reduced to what the generator needs.
#[derive(Debug, Default)]
pub struct Model {
    pub kinds: BTreeMap<String, Kind>,
    /// Fields of objects and interfaces.
    pub fields: BTreeMap<String, Vec<Field>>,
    /// Fields of input objects.
    pub inputs: BTreeMap<String, Vec<InputValue>>,
    /// Values of enums.
    pub enums: BTreeMap<String, Vec<String>>,
    /// Object types that implement an interface (or belong to a union).
    pub possible: BTreeMap<String, Vec<String>>,
}

impl Model {
    /// The model of the server's schema, built once.
    pub fn get() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| Model::from_sdl(&profilegraph_schema::sdl()))
    }

    /// Build the model from SDL text.
    pub fn from_sdl(sdl: &str) -> Model {
        let doc = match async_graphql_parser::parse_schema(sdl) {
            Ok(doc) => doc,
            Err(err) => panic!("the server's SDL does not parse: {err}"),
        };
        let mut model = Model::default();
        for def in doc.definitions {
            let TypeSystemDefinition::Type(def) = def else {
                continue;
            };
            let def = def.node;
            let name = def.name.node.to_string();
            let fields = |defs: &[async_graphql_parser::Positioned<
                async_graphql_parser::types::FieldDefinition,
            >]| {
                defs.iter()
                    .map(|f| Field {
                        name: f.node.name.node.to_string(),
                        args: f
                            .node
                            .arguments
                            .iter()
                            .map(|a| InputValue {
                                name: a.node.name.node.to_string(),
                                ty: TypeRef::from_parser(&a.node.ty.node),
                                has_default: a.node.default_value.is_some(),
                            })
                            .collect(),
                        ty: TypeRef::from_parser(&f.node.ty.node),
                    })
                    .collect::<Vec<_>>()
            };
            match def.kind {
                TypeKind::Scalar => {
                    model.kinds.insert(name, Kind::Scalar);
                }
                TypeKind::Object(obj) => {
                    for iface in &obj.implements {
                        model
                            .possible
                            .entry(iface.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                    model.fields.insert(name.clone(), fields(&obj.fields));
                    model.kinds.insert(name, Kind::Object);
                }
                TypeKind::Interface(iface) => {
                    model.fields.insert(name.clone(), fields(&iface.fields));
                    model.kinds.insert(name, Kind::Interface);
                }
                TypeKind::Union(union) => {
                    model.possible.insert(
                        name.clone(),
                        union.members.iter().map(|m| m.node.to_string()).collect(),
                    );
                    model.kinds.insert(name, Kind::Union);
                }
                TypeKind::Enum(e) => {
                    model.enums.insert(
                        name.clone(),
                        e.values
                            .iter()
                            .map(|v| v.node.value.node.to_string())
                            .collect(),
                    );
                    model.kinds.insert(name, Kind::Enum);
                }
                TypeKind::InputObject(input) => {
                    model.inputs.insert(
                        name.clone(),
                        input
                            .fields
                            .iter()
                            .map(|a| InputValue {
                                name: a.node.name.node.to_string(),
                                ty: TypeRef::from_parser(&a.node.ty.node),
                                has_default: a.node.default_value.is_some(),
                            })
                            .collect(),
                    );
                    model.kinds.insert(name, Kind::Input);
                }
            }
        }
        for list in model.possible.values_mut() {
            list.sort();
        }
        model
    }

    /// The kind of a type name; built-in scalars and unknown names are scalars.
    pub fn kind(&self, name: &str) -> Kind {
        self.kinds.get(name).copied().unwrap_or(Kind::Scalar)
    }

    /// Whether selecting a field of this type needs a sub-selection.
    pub fn is_composite(&self, name: &str) -> bool {
        matches!(
            self.kind(name),
            Kind::Object | Kind::Interface | Kind::Union
        )
    }

    /// The fields of an object or interface (empty for others).
    pub fn fields_of(&self, name: &str) -> &[Field] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }
}
